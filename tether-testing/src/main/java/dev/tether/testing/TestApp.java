package dev.tether.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.BackgroundTask;
import dev.tether.TaskDelegate;
import dev.tether.Tether;
import dev.tether.internal.BackgroundTasks;
import dev.tether.internal.TetherAccess;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TaskOp;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * An app as the test kit runs it: registered with the kit's daemon, launched inside the test JVM whenever tetherd
 * launches it, with the handlers the test gives. Its budgets can be set like {@code tether app budget} does.
 */
public final class TestApp {
  private final TetherTestKit kit;
  private final String appId;
  private final Map<Class<? extends BackgroundTask>, Function<Object, ? extends CompletionStage<?>>> handlers = new LinkedHashMap<>();
  private volatile TaskDelegate delegate;
  private volatile Tether running;
  private volatile int launches;

  TestApp(TetherTestKit kit, String appId) {
    this.kit = kit;
    this.appId = appId;
  }

  public String appId() {
    return appId;
  }

  /** Marks the app as having a complication on the active face (4 wakes per hour unless set otherwise). */
  public TestApp complicationActive(boolean active) {
    return budget(b -> b.put("complicationActive", active));
  }

  /** Sets the refresh and URL-session wakes allowed per rolling hour. */
  public TestApp wakesPerHour(int wakes) {
    return budget(b -> b.put("wakesPerHour", wakes));
  }

  /** Sets the time each wake gets (default 30 s). */
  public TestApp allowance(Duration allowance) {
    return budget(b -> b.put("allowanceMs", allowance.toMillis()));
  }

  /** Sets the background runtime per rolling day. */
  public TestApp dailyRuntime(Duration runtime) {
    return budget(b -> b.put("dailyRuntimeMs", runtime.toMillis()));
  }

  /** Sets the minimum time between URL-session wakes (default 15 min). */
  public TestApp urlSessionSpacing(Duration spacing) {
    return budget(b -> b.put("urlSessionSpacingMs", spacing.toMillis()));
  }

  private TestApp budget(java.util.function.Consumer<ObjectNode> change) {
    ObjectNode b = Json.object();
    b.put("app", appId);
    change.accept(b);
    kit.admin().call(TaskOp.APP_BUDGET, b);
    kit.settleUnlessInHandler();
    return this;
  }

  /** Handles one kind of task in every launch of this app (see {@link Tether#onTask}). */
  @SuppressWarnings("unchecked")
  public <T extends BackgroundTask> TestApp onTask(Class<T> kind, Function<? super T, ? extends CompletionStage<?>> handler) {
    Function<Object, ? extends CompletionStage<?>> h = t -> handler.apply((T) t);
    synchronized (handlers) {
      handlers.put(kind, h);
    }
    Tether t = running;
    if (t != null) {
      install(t, kind, h);
    }
    return this;
  }

  /** Receives the tasks of every launch of this app as sets (see {@link Tether#setTaskDelegate}). */
  public TestApp setTaskDelegate(TaskDelegate delegate) {
    this.delegate = delegate;
    Tether t = running;
    if (t != null) {
      t.setTaskDelegate(delegate);
    }
    return this;
  }

  /** Asks for an application refresh for this app, as {@link Tether#scheduleBackgroundRefresh} does. */
  public void scheduleBackgroundRefresh(Instant preferredDate, Map<String, ?> userInfo) {
    ObjectNode b = Json.object();
    b.put("app", appId);
    b.put("preferredDate", preferredDate.toEpochMilli());
    b.set("userInfo", BackgroundTasks.userInfoJson(userInfo));
    kit.admin().call(TaskOp.TASK_SCHEDULE_REFRESH, b);
    kit.settleUnlessInHandler();
  }

  /** How many times tetherd launched this app. */
  public int launches() {
    return launches;
  }

  /** Whether a launch of this app is running now. */
  public boolean isRunning() {
    Tether t = running;
    return t != null && TetherAccess.client(t).isOpen();
  }

  /** The connection of the launch running now (for handlers that use the app API), or null. */
  public Tether tether() {
    return running;
  }

  /** This app's timeline. */
  public Timeline timeline() {
    return kit.timeline(appId);
  }

  void launched(Tether tether) {
    launches++;
    running = tether;
    TaskDelegate d = delegate;
    Map<Class<? extends BackgroundTask>, Function<Object, ? extends CompletionStage<?>>> copy;
    synchronized (handlers) {
      copy = new LinkedHashMap<>(handlers);
    }
    for (Map.Entry<Class<? extends BackgroundTask>, Function<Object, ? extends CompletionStage<?>>> e : copy.entrySet()) {
      install(tether, e.getKey(), e.getValue());
    }
    if (d != null) {
      tether.setTaskDelegate(tasks -> kit.inHandler(() -> d.handle(tasks)));
    }
  }

  void ended(Tether tether) {
    if (running == tether) {
      running = null;
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private void install(Tether t, Class<? extends BackgroundTask> kind, Function<Object, ? extends CompletionStage<?>> h) {
    t.onTask((Class) kind, task -> kit.inHandlerGet(() -> h.apply(task)));
  }

  @Override
  public String toString() {
    return "TestApp[" + appId + ", " + launches + " launch(es)]";
  }
}
