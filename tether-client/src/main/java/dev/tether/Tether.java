package dev.tether;

import dev.tether.internal.BackgroundTasks;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.TaskHandle;
import dev.tether.internal.TetherAccess;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * An app's entry point to Tether: one connection to the user's tetherd, named by the app's id.
 *
 * <pre>{@code
 * try (Tether tether = Tether.connect("com.example.weather")) {   // starts tetherd if it is not running
 *   ...
 * }
 * }</pre>
 *
 * <p>Thread-safe. Close it when the app is done; background work the app started goes on in tetherd.
 */
public final class Tether implements AutoCloseable {
  private final DaemonClient client;
  private final String appId;
  private final boolean launchedInBackground;
  private final BackgroundTasks tasks;

  static {
    TetherAccess.set(new TetherAccess() {
      @Override
      public Tether connect(String appId, TetherOptions options, Map<String, String> env) {
        return Tether.connect(appId, options, env);
      }

      @Override
      public BackgroundTasks backgroundTasks(Tether tether) {
        return tether.tasks;
      }

      @Override
      public DaemonClient daemonClient(Tether tether) {
        return tether.client;
      }
    });
  }

  private Tether(DaemonClient client, String appId, boolean launchedInBackground) {
    this.client = client;
    this.appId = appId;
    this.launchedInBackground = launchedInBackground;
    this.tasks = new BackgroundTasks(client, launchedInBackground, Tether::newTask);
  }

  /** Connects as {@code appId} to the daemon of the default home, starting the daemon when none is running. */
  public static Tether connect(String appId) {
    return connect(appId, TetherOptions.defaults());
  }

  /** Connects as {@code appId} with explicit options (home folder, whether to start the daemon). */
  public static Tether connect(String appId, TetherOptions options) {
    return connect(appId, options, System.getenv());
  }

  private static Tether connect(String appId, TetherOptions options, Map<String, String> env) {
    Objects.requireNonNull(appId, "appId");
    Path home = TetherPaths.resolveHome(options.home(), env);
    boolean background = "1".equals(env.get(Protocol.ENV_LAUNCHED_IN_BACKGROUND)) && appId.equals(env.get(Protocol.ENV_APP_ID));
    var hello = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    hello.put("kind", "app");
    if (background && env.get(Protocol.ENV_WAKE_ID) != null) {
      hello.put("wakeId", env.get(Protocol.ENV_WAKE_ID));
    }
    // A process tetherd launched never starts a daemon: if the one that launched it is gone, its wake is over.
    DaemonClient client = DaemonClient.connect(home, appId, hello, options.startDaemon() && !background);
    return new Tether(client, appId, background);
  }

  /** The app id this connection acts for. */
  public String appId() {
    return appId;
  }

  /** The daemon's home folder. */
  public Path home() {
    return client.home();
  }

  /** True when tetherd launched this process in the background to hand it tasks. */
  public boolean launchedInBackground() {
    return launchedInBackground;
  }

  /** The version of the daemon this app is connected to. */
  public String daemonVersion() {
    return client.welcome().path("version").asText();
  }

  // ---------------------------------------------------------------- Background tasks

  /**
   * Receives background tasks as one set per wake (Apple's {@code handle(_:)}): every task whose kind has no
   * {@link #onTask} handler. Setting it tells tetherd this process takes tasks; tasks that arrived earlier are handed
   * over now. Runs on the app's delivery thread.
   */
  public void setTaskDelegate(TaskDelegate delegate) {
    tasks.setDelegate(Objects.requireNonNull(delegate, "delegate"));
  }

  /**
   * Handles every task of one kind with an async handler (SwiftUI's {@code backgroundTask}): the task is completed
   * when the returned future completes (also when it completes exceptionally; the timeline then records it as
   * failed). Takes precedence over the delegate for that kind.
   *
   * <pre>{@code
   * tether.onTask(UrlSessionTask.class, task ->
   *     tether.urlSession(SessionConfiguration.background(task.sessionIdentifier()).build(), delegate).eventsDelivered());
   * }</pre>
   */
  public <T extends BackgroundTask> void onTask(Class<T> kind, Function<? super T, ? extends CompletionStage<?>> handler) {
    tasks.onTask(kind, handler);
  }

  /**
   * Blocks until this wake is over: for a process tetherd launched in the background, until every task it was given
   * is complete and tetherd asks it to exit (return from {@code main} then); otherwise until every task delivered so
   * far is complete. Throws {@link TetherException} when tetherd refused the launch (e.g. the app is not registered).
   */
  public void awaitTasks() {
    try {
      tasks.await(null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TetherException(ErrorCode.GENERIC, "interrupted while waiting for background tasks");
    }
  }

  /** Like {@link #awaitTasks()} with a limit; returns false when the time ran out first. */
  public boolean awaitTasks(Duration timeout) {
    try {
      return tasks.await(Objects.requireNonNull(timeout, "timeout"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TetherException(ErrorCode.GENERIC, "interrupted while waiting for background tasks");
    }
  }

  /**
   * Asks for an application-refresh wake at or after {@code preferredDate} (not exactly then: budgets apply), with
   * {@code userInfo} (strings, numbers, booleans, lists and maps with string keys) handed back in the
   * {@link AppRefreshTask}. One request is pending per app; a new one replaces it. Never delivered while the app is
   * in the foreground.
   */
  public void scheduleBackgroundRefresh(Instant preferredDate, Map<String, ?> userInfo) {
    Objects.requireNonNull(preferredDate, "preferredDate");
    var body = Json.object();
    body.put("preferredDate", preferredDate.toEpochMilli());
    body.set("userInfo", BackgroundTasks.userInfoJson(userInfo));
    client.call(dev.tether.protocol.wire.TaskOp.TASK_SCHEDULE_REFRESH, body);
  }

  /**
   * Declares whether this process is the app in the foreground (the user is using it). A process started normally
   * counts as in the foreground until it says otherwise; one tetherd launched in the background does not.
   * Application refresh is not delivered while the app is in the foreground.
   */
  public void setForeground(boolean foreground) {
    var body = Json.object();
    body.put("foreground", foreground);
    client.call(dev.tether.protocol.wire.TaskOp.APP_FOREGROUND, body);
  }

  /** Registers (or updates) this app with tetherd: the command that launches it and its budgets. */
  public void register(AppRegistration registration) {
    client.call(dev.tether.protocol.wire.TaskOp.APP_REGISTER, Objects.requireNonNull(registration, "registration").toJson());
  }

  private static BackgroundTask newTask(TaskHandle handle) {
    switch (handle.kind()) {
      case "appRefresh":
        return new AppRefreshTask(handle);
      case "urlSession":
        return new UrlSessionTask(handle);
      case "connectivity":
        return new ConnectivityTask(handle);
      default:
        return null;
    }
  }

  // ---------------------------------------------------------------- end of background tasks

  // ---- background URL sessions (transfers) ----
  private volatile dev.tether.internal.UrlSessions urlSessions;

  /**
   * Opens the background URL session {@code configuration.identifier()}, creating it or re-attaching to its
   * transfers; its pending events are then delivered to {@code delegate}, one at a time and in order.
   */
  public UrlSession urlSession(SessionConfiguration configuration, UrlSessionDelegate delegate) {
    dev.tether.internal.UrlSessions s = urlSessions;
    if (s == null) {
      synchronized (this) {
        s = urlSessions;
        if (s == null) {
          s = new dev.tether.internal.UrlSessions(client);
          urlSessions = s;
        }
      }
    }
    return s.open(configuration, delegate);
  }
  // ---- end of background URL sessions ----
  // ---- Paired-device connectivity (WCSession) ----
  private dev.tether.internal.ConnectivitySessionImpl connectivity;

  /**
   * The app's connectivity session with {@code delegate} (Apple: {@code WCSession.default} plus its delegate). One
   * session per connection: a second call returns the same session with the new delegate. Call
   * {@link ConnectivitySession#activate()} before using it.
   */
  public synchronized ConnectivitySession connectivity(ConnectivityDelegate delegate) {
    if (connectivity == null) {
      connectivity = new dev.tether.internal.ConnectivitySessionImpl(client, delegate);
    } else {
      connectivity.delegate(delegate);
    }
    return connectivity;
  }
  // ---- end connectivity ----

  @Override
  public void close() {
    client.close();
  }

  @Override
  public String toString() {
    return "Tether[" + appId + " @ " + client.home() + "]";
  }
}
