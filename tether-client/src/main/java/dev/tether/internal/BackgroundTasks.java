package dev.tether.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.BackgroundTask;
import dev.tether.ErrorCode;
import dev.tether.TaskDelegate;
import dev.tether.TetherException;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TaskOp;
import dev.tether.protocol.wire.TaskPush;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * An app's side of background tasks: receives the sets tetherd pushes, hands them to the delegate or the per-kind
 * handlers, reports completions, runs expiration handlers, and tells {@code awaitTasks} when the wake is over.
 * Tasks that arrive before any handler for their kind is set are held and handed over once one is.
 */
public final class BackgroundTasks {
  /** Created on first use: initialising the JDK's logging costs a freshly launched app's first task ~10 ms. */
  private static final class Log {
    static final System.Logger LOG = System.getLogger(BackgroundTasks.class.getName());
  }

  private final DaemonClient client;
  private final boolean launchedInBackground;
  private final Function<TaskHandle, BackgroundTask> factory;
  private final Object lock = new Object();
  private final Map<String, Entry> open = new LinkedHashMap<>();
  private final List<Entry> held = new ArrayList<>();
  private final Map<Class<?>, Function<Object, ? extends CompletionStage<?>>> handlers = new LinkedHashMap<>();
  private final CopyOnWriteArrayList<Runnable> exitListeners = new CopyOnWriteArrayList<>();
  private volatile TaskDelegate delegate;
  private boolean listening;
  private int unacknowledged;
  private boolean exitRequested;
  private TetherException refused;

  private record Entry(TaskHandle handle, BackgroundTask task) {}

  public BackgroundTasks(DaemonClient client, boolean launchedInBackground, Function<TaskHandle, BackgroundTask> factory) {
    this.client = client;
    this.launchedInBackground = launchedInBackground;
    this.factory = factory;
    client.onPush(TaskPush.TASKS, this::onTasks);
    client.onPush(TaskPush.TASKS_EXPIRING, this::onExpiring);
    client.onPush(TaskPush.TASKS_EXPIRED, this::onExpired);
    client.onPush(TaskPush.APP_EXIT, b -> exit());
    client.onPush(TaskPush.TASKS_REFUSED, this::onRefused);
    client.onClose(this::exit);
  }

  public void setDelegate(TaskDelegate delegate) {
    this.delegate = delegate;
    client.deliver(this::dispatchHeld);
    listen();
  }

  @SuppressWarnings("unchecked")
  public <T extends BackgroundTask> void onTask(Class<T> kind, Function<? super T, ? extends CompletionStage<?>> handler) {
    if (kind == null || handler == null) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "onTask needs a task kind and a handler");
    }
    if (kind == BackgroundTask.class) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "register a handler per kind (AppRefreshTask.class, UrlSessionTask.class,"
          + " ConnectivityTask.class), or use setTaskDelegate for all of them");
    }
    synchronized (lock) {
      handlers.put(kind, t -> handler.apply((T) t));
    }
    client.deliver(this::dispatchHeld);
    listen();
  }

  /** Tells tetherd this connection takes tasks (once). */
  public void listen() {
    synchronized (lock) {
      if (listening) {
        return;
      }
      listening = true;
    }
    client.call(TaskOp.TASK_LISTEN, JsonNodeFactory.instance.objectNode());
  }

  /** Runs when tetherd asks the app to exit (all tasks of its background launch complete) or the connection ends. */
  public void onExitRequested(Runnable listener) {
    exitListeners.add(listener);
    boolean now;
    synchronized (lock) {
      now = exitRequested;
    }
    if (now) {
      listener.run();
    }
  }

  /**
   * Blocks until the wake is over: for a background launch, until tetherd asks the app to exit; otherwise until every
   * task delivered so far is complete. Returns false when {@code timeout} passed first (null: no limit).
   */
  public boolean await(Duration timeout) throws InterruptedException {
    if (launchedInBackground) {
      listen();
    }
    long deadline = timeout == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (true) {
        if (refused != null) {
          throw new TetherException(refused.code(), refused.getMessage());
        }
        if (exitRequested || (!launchedInBackground && open.isEmpty() && held.isEmpty() && unacknowledged == 0)) {
          return true;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        lock.wait(Math.max(1, Math.min(left / 1_000_000, Long.MAX_VALUE / 2)));
      }
    }
  }

  private void onTasks(ObjectNode body) {
    String wakeId = body.path("wakeId").asText();
    List<Entry> arrived = new ArrayList<>();
    for (JsonNode n : body.path("tasks")) {
      TaskHandle h = new TaskHandle(this, wakeId, (ObjectNode) n);
      BackgroundTask task = factory.apply(h);
      if (task == null) {
        Log.LOG.log(Level.WARNING, "tetherd delivered a task of unknown kind {0}; completing it as failed", h.kind());
        h.completeQuietly(true, "unknown task kind " + h.kind());
        continue;
      }
      arrived.add(new Entry(h, task));
    }
    synchronized (lock) {
      for (Entry e : arrived) {
        open.put(e.handle().id(), e);
      }
    }
    dispatch(arrived);
    ObjectNode ack = JsonNodeFactory.instance.objectNode();
    ack.put("wakeId", wakeId);
    client.request(TaskOp.TASK_DELIVERED, ack);
  }

  private void dispatchHeld() {
    List<Entry> again;
    synchronized (lock) {
      again = new ArrayList<>(held);
      held.clear();
    }
    if (!again.isEmpty()) {
      dispatch(again);
    }
  }

  private void dispatch(List<Entry> entries) {
    Set<BackgroundTask> forDelegate = new LinkedHashSet<>();
    TaskDelegate d = delegate;
    for (Entry e : entries) {
      Function<Object, ? extends CompletionStage<?>> handler = handlerFor(e.task());
      if (handler != null) {
        runHandler(e, handler);
      } else if (d != null) {
        forDelegate.add(e.task());
      } else {
        synchronized (lock) {
          held.add(e);
        }
      }
    }
    if (!forDelegate.isEmpty()) {
      try {
        d.handle(java.util.Collections.unmodifiableSet(forDelegate));
      } catch (RuntimeException ex) {
        Log.LOG.log(Level.ERROR, "the task delegate failed; its tasks are completed as failed", ex);
        for (BackgroundTask t : forDelegate) {
          entryOf(t).handle().completeQuietly(true, "the task delegate threw " + ex);
        }
      }
    }
  }

  private Entry entryOf(BackgroundTask t) {
    synchronized (lock) {
      for (Entry e : open.values()) {
        if (e.task() == t) {
          return e;
        }
      }
    }
    throw new IllegalStateException("unknown task " + t);
  }

  private Function<Object, ? extends CompletionStage<?>> handlerFor(BackgroundTask task) {
    synchronized (lock) {
      for (Map.Entry<Class<?>, Function<Object, ? extends CompletionStage<?>>> e : handlers.entrySet()) {
        if (e.getKey().isInstance(task)) {
          return e.getValue();
        }
      }
    }
    return null;
  }

  private void runHandler(Entry e, Function<Object, ? extends CompletionStage<?>> handler) {
    CompletionStage<?> stage;
    try {
      stage = handler.apply(e.task());
    } catch (RuntimeException ex) {
      Log.LOG.log(Level.ERROR, "the handler for " + e.task() + " failed; the task is completed as failed", ex);
      e.handle().completeQuietly(true, "the handler threw " + ex);
      return;
    }
    if (stage == null) {
      e.handle().completeQuietly(true, "the handler returned null instead of a future");
      return;
    }
    stage.whenComplete((v, failure) -> {
      if (failure != null) {
        Log.LOG.log(Level.WARNING, "the handler for " + e.task() + " completed exceptionally: " + failure);
      }
      e.handle().completeQuietly(failure != null, failure == null ? null : String.valueOf(failure));
    });
  }

  void sendCompletion(TaskHandle h, boolean failed, String error) {
    ObjectNode body = JsonNodeFactory.instance.objectNode();
    body.put("id", h.id());
    if (failed) {
      body.put("failed", true);
      body.put("error", error == null ? "failed" : error);
    }
    synchronized (lock) {
      unacknowledged++;
    }
    client.request(TaskOp.TASK_COMPLETE, body).whenComplete((r, e) -> {
      if (e != null) {
        Log.LOG.log(Level.DEBUG, "completing task " + h.id() + " failed: " + e);
      }
      synchronized (lock) {
        unacknowledged--;
        open.remove(h.id());
        lock.notifyAll();
      }
    });
  }

  private void onExpiring(ObjectNode body) {
    for (Entry e : entries(body.path("taskIds"))) {
      if (e.handle().isCompleted()) {
        continue;
      }
      Runnable r = e.handle().expirationHandler();
      if (r != null) {
        try {
          r.run();
        } catch (RuntimeException ex) {
          Log.LOG.log(Level.ERROR, "the expiration handler of " + e.task() + " failed", ex);
        }
      }
    }
    ObjectNode ack = JsonNodeFactory.instance.objectNode();
    ack.put("wakeId", body.path("wakeId").asText());
    client.request(TaskOp.TASK_DELIVERED, ack);
  }

  private void onExpired(ObjectNode body) {
    for (Entry e : entries(body.path("taskIds"))) {
      e.handle().markExpired();
      synchronized (lock) {
        open.remove(e.handle().id());
        held.remove(e);
      }
    }
    synchronized (lock) {
      lock.notifyAll();
    }
  }

  private Collection<Entry> entries(JsonNode ids) {
    List<Entry> l = new ArrayList<>();
    synchronized (lock) {
      for (JsonNode id : ids) {
        Entry e = open.get(id.asText());
        if (e != null) {
          l.add(e);
        }
      }
    }
    return l;
  }

  private void onRefused(ObjectNode body) {
    ErrorCode code;
    try {
      code = ErrorCode.valueOf(body.path("code").asText("UNKNOWN_APP"));
    } catch (IllegalArgumentException e) {
      code = ErrorCode.UNKNOWN_APP;
    }
    synchronized (lock) {
      refused = new TetherException(code, body.path("message").asText("tetherd refused this background launch"));
      lock.notifyAll();
    }
  }

  private void exit() {
    synchronized (lock) {
      if (exitRequested) {
        return;
      }
      exitRequested = true;
      lock.notifyAll();
    }
    for (Runnable r : exitListeners) {
      try {
        r.run();
      } catch (RuntimeException e) {
        Log.LOG.log(Level.ERROR, "exit listener failed", e);
      }
    }
  }

  /** Checks a user-info map holds only property-list values and returns it as JSON. */
  public static ObjectNode userInfoJson(Map<String, ?> userInfo) {
    if (userInfo == null) {
      return JsonNodeFactory.instance.objectNode();
    }
    check(userInfo, "userInfo", 1);
    return Json.mapper().valueToTree(userInfo);
  }

  /** Checks {@code v} at {@code path}; {@code depth} is its nesting level if it is a list or map (userInfo is 1). */
  private static void check(Object v, String path, int depth) {
    if (v == null || v instanceof String || v instanceof Boolean || v instanceof Number) {
      return;
    }
    if (depth > dev.tether.protocol.PropertyList.MAX_NESTING_DEPTH && (v instanceof Map<?, ?> || v instanceof List<?>)) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, "userInfo is nested too deep: its lists and maps nest more"
          + " than " + dev.tether.protocol.PropertyList.MAX_NESTING_DEPTH + " levels inside each other; the limit is "
          + dev.tether.protocol.PropertyList.MAX_NESTING_DEPTH + " levels");
    }
    if (v instanceof Instant) {
      throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, path + " is an Instant; pass dates as epoch milliseconds");
    }
    if (v instanceof Map<?, ?> m) {
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!(e.getKey() instanceof String k)) {
          throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, path + " has a key that is not a string: " + e.getKey());
        }
        check(e.getValue(), path + "." + k, depth + 1);
      }
      return;
    }
    if (v instanceof List<?> l) {
      for (int i = 0; i < l.size(); i++) {
        check(l.get(i), path + "[" + i + "]", depth + 1);
      }
      return;
    }
    throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, path + " is a " + v.getClass().getName()
        + "; user info holds only strings, numbers, booleans, lists and maps with string keys");
  }
}
