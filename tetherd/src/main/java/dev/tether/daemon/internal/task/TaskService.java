package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.BackgroundWork;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.ipc.RequestHandler;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.store.SqlWork;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.task.launch.AppLauncher;
import dev.tether.daemon.internal.task.launch.LaunchRequest;
import dev.tether.daemon.internal.task.launch.ProcessLauncher;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Background tasks: registered apps, pending tasks, wakes and budgets, and the {@link BackgroundWork} hook the other
 * capabilities use to ask for wakes.
 *
 * <p>All state changes run on one thread ({@code tether-tasks}); request handlers, timers, connection events and
 * process exits hand their work to it. State is kept in memory and written through to the store in the same order;
 * replies wait for the commit. Timers come from the daemon's clock only: with nothing due, the service sleeps.
 */
public final class TaskService implements DaemonService, BackgroundWork, ConnectionListener {
  private static final Logger log = LoggerFactory.getLogger(TaskService.class);
  /** How long a launched app has to exit by itself after being asked to, before SIGTERM. */
  static final Duration EXIT_GRACE = Duration.ofSeconds(3);
  /** How long after SIGTERM before SIGKILL. */
  static final Duration KILL_GRACE = Duration.ofSeconds(2);
  static final int TIMELINE_LIMIT = 100;
  /** The app id the tether CLI connects as (TetherCommand.CLI_APP_ID). */
  static final String CLI_APP_ID = "dev.tether.cli";

  private DaemonContext context;
  private Store store;
  private TetherClock clock;
  private AppLauncher launcher;
  private final ExecutorService actor = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "tether-tasks");
    t.setDaemon(true);
    return t;
  });
  private final AtomicInteger busy = new AtomicInteger();
  private final List<CompletableFuture<ObjectNode>> idleWaiters = new ArrayList<>();
  private final CopyOnWriteArrayList<Consumer<String>> forceQuitListeners = new CopyOnWriteArrayList<>();

  // Confined to the actor thread.
  private final Map<String, AppConfig> apps = new LinkedHashMap<>();
  private final Map<String, PendingTask> tasks = new LinkedHashMap<>();
  private final Map<String, List<WakeStat>> recent = new HashMap<>();
  private final Map<String, Wake> openWakes = new LinkedHashMap<>();
  private final Map<ClientConnection, ConnState> conns = new HashMap<>();
  private TetherClock.Timer checkTimer;
  private Instant checkAt;
  private boolean holdWakes;
  /** False until the daemon's socket accepts connections: nothing is launched before an app could connect. */
  private boolean accepting;
  private volatile boolean closed;

  /** One app connection as the task service sees it. */
  private static final class ConnState {
    final ClientConnection connection;
    boolean foreground;
    boolean listening;
    /** Set for a process tetherd launched: it serves only that wake, never later ones. */
    boolean launchedForWake;
    Wake wake;

    ConnState(ClientConnection connection) {
      this.connection = connection;
    }
  }

  @Override
  public List<Migration> migrations() {
    return TaskTables.migrations();
  }

  @Override
  public void start(DaemonContext context) {
    this.context = context;
    this.store = context.store();
    this.clock = context.clock();
    AppLauncher custom = context.options().extra(AppLauncher.OPTION, AppLauncher.class);
    this.launcher = custom != null ? custom : new ProcessLauncher();
    context.provideBackgroundWork(this);
    load();
    IpcServer ipc = context.ipc();
    handle(ipc, "app.register", this::register);
    handle(ipc, "app.budget", this::budget);
    handle(ipc, "app.unregister", this::unregister);
    handle(ipc, "app.list", (c, b) -> done(listApps()));
    handle(ipc, "app.stop", this::stop);
    handle(ipc, "app.foreground", this::foreground);
    handle(ipc, "timeline", (c, b) -> done(timeline(b)));
    handle(ipc, "task.listen", this::listen);
    handle(ipc, "task.delivered", this::delivered);
    handle(ipc, "task.complete", this::complete);
    handle(ipc, "task.scheduleRefresh", this::scheduleRefresh);
    handle(ipc, "task.trigger", this::trigger);
    handle(ipc, "task.expire", this::expireNow);
    handle(ipc, "task.withdraw", (c, b) -> {
      TaskKind kind = TaskKind.fromWire(b.path("kind").asText(""));
      if (kind == TaskKind.APP_REFRESH) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "only URL-session and connectivity tasks are withdrawn");
      }
      withdraw(targetApp(c, b), kind, kind == TaskKind.URL_SESSION ? b.path("sessionIdentifier").asText(null) : null);
      return pendingWrites().thenApply(v -> Json.object());
    });
    handle(ipc, "task.hold", (c, b) -> {
      holdWakes = b.path("hold").asBoolean(false);
      evaluate();
      return done(Json.object().put("hold", holdWakes));
    });
    ipc.register("task.settle", (c, b) -> settled());
    ipc.addListener(this);
  }

  @Override
  public void started() {
    submit(() -> {
      accepting = true;
      evaluate();
    });
  }

  // ---------------------------------------------------------------- BackgroundWork

  @Override
  public void urlSessionNeedsApp(String appId, String sessionIdentifier, String reason) {
    submit(() -> enqueue(appId, TaskKind.URL_SESSION, sessionIdentifier, null, clock.now(), reason, false));
  }

  @Override
  public void connectivityNeedsApp(String appId, String reason) {
    submit(() -> enqueue(appId, TaskKind.CONNECTIVITY, null, null, clock.now(), reason, false));
  }

  @Override
  public CompletableFuture<java.util.Optional<String>> launchRefusal(String appId) {
    CompletableFuture<java.util.Optional<String>> f = new CompletableFuture<>();
    submit(() -> {
      AppConfig app = apps.get(appId);
      if (app == null) {
        f.complete(java.util.Optional.of("no app " + appId + " is registered there to launch (tether app register " + appId
            + " --launch CMD)"));
      } else if (app.forceQuit) {
        f.complete(java.util.Optional.of("its user force-quit " + appId + " there; it is not launched in the background"
            + " until it runs in the foreground again"));
      } else {
        f.complete(java.util.Optional.empty());
      }
    });
    if (closed) {
      f.complete(java.util.Optional.empty());
    }
    return f;
  }

  @Override
  public void urlSessionOpened(String appId, String sessionIdentifier) {
    submit(() -> withdraw(appId, TaskKind.URL_SESSION, sessionIdentifier));
  }

  @Override
  public void connectivityDrained(String appId) {
    submit(() -> withdraw(appId, TaskKind.CONNECTIVITY, null));
  }

  /** Drops a task not yet handed to the app whose work the app already did by itself. */
  private void withdraw(String appId, TaskKind kind, String session) {
    for (PendingTask t : List.copyOf(tasks.values())) {
      if (t.appId.equals(appId) && t.kind == kind && java.util.Objects.equals(t.sessionIdentifier, session)
          && t.state == PendingTask.State.PENDING && t.wakeId == null) {
        tasks.remove(t.id);
        deleteTask(t.id);
        log.info("withdrew {} task for {}: the app handled it while running", t.describe(), appId);
      }
    }
    evaluate();
  }

  @Override
  public boolean isRunning(String appId) {
    for (ClientConnection c : context.ipc().connections()) {
      if (appId.equals(c.appId()) && isAppConnection(c) && c.isOpen()) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void onForceQuit(Consumer<String> listener) {
    forceQuitListeners.add(listener);
  }

  // ---------------------------------------------------------------- connections

  @Override
  public void opened(ClientConnection connection) {
    if (isAppConnection(connection)) {
      submit(() -> connectionOpened(connection));
    }
  }

  @Override
  public void closed(ClientConnection connection) {
    if (isAppConnection(connection)) {
      submit(() -> connectionClosed(connection));
    }
  }

  /** The CLI (and the test kit) act on the user's behalf for any app; an app acts only for itself. */
  private static boolean actsForUser(ClientConnection c) {
    return !isAppConnection(c) || CLI_APP_ID.equals(c.appId());
  }

  private static boolean isAppConnection(ClientConnection c) {
    return c.hello() != null && "app".equals(c.hello().path("kind").asText("app"));
  }

  private void connectionOpened(ClientConnection c) {
    ConnState s = new ConnState(c);
    String wakeId = c.hello().path("wakeId").asText(null);
    if (wakeId != null) {
      s.launchedForWake = true;
      Wake w = openWakes.get(wakeId);
      if (w != null && w.appId.equals(c.appId()) && w.launched && w.connection == null && w.phase != Wake.Phase.ENDED) {
        w.connection = c;
        w.connectedOnce = true;
        s.wake = w;
        log.info("{} connected for wake {}", c.appId(), wakeId);
      } else {
        refuse(c, wakeId);
      }
    } else {
      s.foreground = true;
      AppConfig app = apps.get(c.appId());
      if (app != null && app.forceQuit) {
        app.forceQuit = false;
        saveApp(app);
        log.info("{} runs in the foreground again; background launches are allowed again", c.appId());
      }
    }
    conns.put(c, s);
    foregroundMayHaveChanged(c.appId());
    evaluate();
  }

  /** Keeps the stored foreground flag (what {@code tether apps} shows after a restart too) in step with connections. */
  private void foregroundMayHaveChanged(String appId) {
    AppConfig app = apps.get(appId);
    if (app != null && app.foregroundStored != inForeground(appId)) {
      app.foregroundStored = inForeground(appId);
      saveApp(app);
    }
  }

  private void refuse(ClientConnection c, String wakeId) {
    String message;
    if (!apps.containsKey(c.appId())) {
      message = "a process connected as " + c.appId() + " claiming wake " + wakeId + ", but no app " + c.appId()
          + " is registered; register it with 'tether app register " + c.appId() + " --launch CMD'";
    } else {
      message = "a process connected as " + c.appId() + " claiming wake " + wakeId
          + ", which tetherd did not start for this app or which already ended";
    }
    log.warn(message);
    Instant now = clock.now();
    String id = newId();
    CompletableFuture<Void> recorded = write(conn -> {
      try (PreparedStatement p = conn.prepareStatement("INSERT INTO task_wakes(id, app_id, started_at, ended_at, launched,"
          + " reason, tasks, outcome, pid, duration_ms, error) VALUES (?,?,?,?,0,?,'[]',?,?,0,?)")) {
        p.setString(1, id);
        p.setString(2, c.appId());
        p.setLong(3, now.toEpochMilli());
        p.setLong(4, now.toEpochMilli());
        p.setString(5, "connection claiming wake " + wakeId);
        p.setString(6, WakeOutcome.REFUSED.name());
        p.setLong(7, c.peerPid());
        p.setString(8, message);
        p.executeUpdate();
      }
      return null;
    });
    ObjectNode body = Json.object();
    body.put("wakeId", wakeId);
    body.put("code", ErrorCode.UNKNOWN_APP.name());
    body.put("message", message);
    recorded.whenComplete((v, e) -> c.push("tasks.refused", body));
  }

  private void connectionClosed(ClientConnection c) {
    ConnState s = conns.remove(c);
    foregroundMayHaveChanged(c.appId());
    if (s != null && s.wake != null) {
      Wake w = s.wake;
      if (w.connection == c) {
        w.connection = null;
      }
      if (!w.launched && w.phase != Wake.Phase.ENDED) {
        if (w.allDone() && w.awaitingAck == 0) {
          endWake(w, WakeOutcome.COMPLETED, null);
        } else {
          endWake(w, WakeOutcome.CRASHED, "the app closed its connection before completing its tasks");
        }
      }
    }
    evaluate();
  }

  // ---------------------------------------------------------------- requests

  private CompletableFuture<ObjectNode> register(ClientConnection c, ObjectNode b) {
    String appId = targetApp(c, b);
    String launch = b.path("launch").asText("").trim();
    if (launch.isEmpty()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "an app needs the command that launches it: --launch \"CMD\"");
    }
    if (launch.length() > 8192) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the launch command is longer than 8192 characters");
    }
    AppConfig app = apps.get(appId);
    boolean isNew = app == null;
    boolean newLaunchCommand = isNew || !launch.equals(app.launchCommand);
    AppConfig candidate = new AppConfig(appId);
    if (!isNew) {
      copy(app, candidate);
    } else {
      candidate.registeredAt = clock.now();
    }
    candidate.launchCommand = launch;
    applySettings(candidate, b);
    if (isNew) {
      apps.put(appId, candidate);
      app = candidate;
    } else {
      copy(candidate, app);
    }
    log.info("{} app {} with launch command {}", isNew ? "registered" : "updated", appId, launch);
    AppConfig saved = app;
    CompletableFuture<Void> w = saveApp(app);
    if (newLaunchCommand) {
      w = CompletableFuture.allOf(w, retryNow(appId));
    }
    evaluate();
    return w.thenApply(v -> appJson(saved, clock.now()));
  }

  /**
   * A new launch command is the operator's answer to wakes that failed (a command not found, an app that crashed):
   * the tasks waiting out a retry back-off after them may go at once, and a new failure backs off from the start.
   */
  private CompletableFuture<Void> retryNow(String appId) {
    List<CompletableFuture<Void>> saves = new ArrayList<>();
    for (PendingTask t : tasks.values()) {
      if (t.appId.equals(appId) && t.state == PendingTask.State.PENDING && t.notBefore != null) {
        log.info("task {} of {} no longer waits for its retry back-off: the app has a new launch command", t.id, appId);
        t.notBefore = null;
        t.attempts = 0;
        saves.add(saveTask(t));
      }
    }
    return CompletableFuture.allOf(saves.toArray(CompletableFuture[]::new));
  }

  private CompletableFuture<ObjectNode> budget(ClientConnection c, ObjectNode b) {
    AppConfig app = requireApp(targetApp(c, b));
    AppConfig candidate = new AppConfig(app.appId);
    copy(app, candidate);
    applySettings(candidate, b);
    copy(candidate, app);
    CompletableFuture<Void> w = saveApp(app);
    evaluate();
    return w.thenApply(v -> appJson(app, clock.now()));
  }

  private static void copy(AppConfig from, AppConfig to) {
    to.launchCommand = from.launchCommand;
    to.allowance = from.allowance;
    to.wakesPerHour = from.wakesPerHour;
    to.complicationActive = from.complicationActive;
    to.dailyRuntime = from.dailyRuntime;
    to.urlSessionSpacing = from.urlSessionSpacing;
    to.forceQuit = from.forceQuit;
    to.registeredAt = from.registeredAt;
  }

  private static void applySettings(AppConfig app, ObjectNode b) {
    if (b.has("allowanceMs")) {
      long ms = b.path("allowanceMs").asLong(-1);
      if (ms < 1000 || ms > 3_600_000) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the allowance per wake must be between 1 s and 1 h, not " + ms + " ms");
      }
      app.allowance = Duration.ofMillis(ms);
    }
    if (b.has("wakesPerHour")) {
      JsonNode n = b.get("wakesPerHour");
      if (n.isNull()) {
        app.wakesPerHour = null;
      } else {
        int v = n.asInt(-1);
        if (!n.canConvertToInt() || v < 0 || v > 3600) {
          throw new TetherException(ErrorCode.INVALID_PARAMETER, "wakes per hour must be between 0 and 3600, not " + n);
        }
        app.wakesPerHour = v;
      }
    }
    if (b.has("complicationActive")) {
      app.complicationActive = b.path("complicationActive").asBoolean();
    }
    if (b.has("dailyRuntimeMs")) {
      long ms = b.path("dailyRuntimeMs").asLong(-1);
      if (ms < 0 || ms > Duration.ofDays(1).toMillis()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the daily runtime must be between 0 and 24 h, not " + ms + " ms");
      }
      app.dailyRuntime = Duration.ofMillis(ms);
    }
    if (b.has("urlSessionSpacingMs")) {
      long ms = b.path("urlSessionSpacingMs").asLong(-1);
      if (ms < 0 || ms > Duration.ofDays(1).toMillis()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the URL-session spacing must be between 0 and 24 h, not " + ms + " ms");
      }
      app.urlSessionSpacing = Duration.ofMillis(ms);
    }
  }

  private CompletableFuture<ObjectNode> unregister(ClientConnection c, ObjectNode b) {
    AppConfig app = requireApp(targetApp(c, b));
    apps.remove(app.appId);
    log.info("unregistered app {}", app.appId);
    CompletableFuture<Void> w = write(conn -> {
      try (PreparedStatement p = conn.prepareStatement("DELETE FROM task_apps WHERE app_id = ?")) {
        p.setString(1, app.appId);
        p.executeUpdate();
      }
      return null;
    });
    evaluate();
    ObjectNode r = Json.object();
    r.put("app", app.appId);
    r.put("unregistered", true);
    return w.thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> stop(ClientConnection c, ObjectNode b) {
    String appId = targetApp(c, b);
    boolean force = b.path("force").asBoolean(false);
    AppConfig app = apps.get(appId);
    if (app == null && !isRunning(appId)) {
      throw unknownApp(appId);
    }
    String why = force ? "force-quit by the user" : "stopped by the user";
    CompletableFuture<Void> saved = CompletableFuture.completedFuture(null);
    if (force && app != null) {
      app.forceQuit = true;
      saved = saveApp(app);
    }
    int wakes = 0;
    for (Wake w : List.copyOf(openWakes.values())) {
      if (!w.appId.equals(appId) || w.phase == Wake.Phase.ENDED) {
        continue;
      }
      wakes++;
      w.forcedOutcome = WakeOutcome.KILLED;
      w.forcedReason = why;
      if (w.launched && w.process != null) {
        if (force) {
          setPhase(w, Wake.Phase.ENDING);
          w.process.kill();
        } else {
          askToExit(w, "stop");
        }
      } else {
        endWake(w, WakeOutcome.KILLED, why);
      }
    }
    int closedConnections = 0;
    for (ConnState s : List.copyOf(conns.values())) {
      if (!appId.equals(s.connection.appId()) || (s.wake != null && s.wake.launched)) {
        continue;
      }
      ObjectNode exit = Json.object();
      exit.put("reason", force ? "forceQuit" : "stop");
      s.connection.push("app.exit", exit);
      if (force) {
        s.connection.close();
        closedConnections++;
      }
    }
    if (force) {
      log.info("{} force-quit by the user", appId);
      for (Consumer<String> l : forceQuitListeners) {
        try {
          l.accept(appId);
        } catch (RuntimeException e) {
          log.error("force-quit listener failed for {}", appId, e);
        }
      }
    }
    evaluate();
    ObjectNode r = Json.object();
    r.put("app", appId);
    r.put("forceQuit", force);
    r.put("endedWakes", wakes);
    r.put("closedConnections", closedConnections);
    return saved.thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> foreground(ClientConnection c, ObjectNode b) {
    ConnState s = conns.get(c);
    if (s == null) {
      throw new TetherException(ErrorCode.INVALID_STATE, "only an app's own connection can declare foreground or background");
    }
    s.foreground = b.path("foreground").asBoolean(true);
    foregroundMayHaveChanged(c.appId());
    CompletableFuture<Void> w = CompletableFuture.completedFuture(null);
    AppConfig app = apps.get(c.appId());
    if (s.foreground && app != null && app.forceQuit) {
      app.forceQuit = false;
      w = saveApp(app);
    }
    evaluate();
    ObjectNode r = Json.object();
    r.put("foreground", s.foreground);
    return w.thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> listen(ClientConnection c, ObjectNode b) {
    ConnState s = conns.get(c);
    if (s == null) {
      throw new TetherException(ErrorCode.INVALID_STATE, "only an app's connection can receive background tasks");
    }
    s.listening = true;
    Wake w = s.wake;
    if (w != null && w.phase != Wake.Phase.ENDED) {
      List<PendingTask> undelivered = new ArrayList<>();
      for (PendingTask t : w.tasks) {
        if (t.state == PendingTask.State.PENDING) {
          undelivered.add(t);
        }
      }
      if (!undelivered.isEmpty()) {
        deliver(w, undelivered);
      } else if (w.phase == Wake.Phase.LAUNCHING) {
        setPhase(w, Wake.Phase.RUNNING);
        checkDone(w);
      }
    }
    evaluate();
    return done(Json.object().put("listening", true));
  }

  private CompletableFuture<ObjectNode> delivered(ClientConnection c, ObjectNode b) {
    Wake w = openWakes.get(b.path("wakeId").asText(""));
    if (w != null && w.awaitingAck > 0) {
      w.awaitingAck--;
      if (w.awaitingAck == 0 && w.phase == Wake.Phase.DELIVERING) {
        setPhase(w, Wake.Phase.RUNNING);
      } else {
        updateBusy(w);
      }
      if (w.awaitingAck == 0 && w.expireRequested) {
        w.expireRequested = false;
        allowanceOver(w);
      } else {
        checkDone(w);
      }
    }
    return done(Json.object());
  }

  private CompletableFuture<ObjectNode> complete(ClientConnection c, ObjectNode b) {
    String id = b.path("id").asText("");
    PendingTask t = tasks.get(id);
    if (t == null || !t.appId.equals(c.appId()) || t.state == PendingTask.State.PENDING) {
      throw new TetherException(ErrorCode.UNKNOWN_TASK, "no background task " + id + " is running for " + c.appId()
          + " (it may have expired)");
    }
    if (t.done()) {
      throw new TetherException(ErrorCode.TASK_ALREADY_COMPLETED, "background task " + id + " was already completed");
    }
    boolean failed = b.path("failed").asBoolean(false);
    t.state = failed ? PendingTask.State.FAILED : PendingTask.State.COMPLETED;
    t.failure = failed ? b.path("error").asText("the handler failed") : null;
    CompletableFuture<Void> w = saveTask(t);
    Wake wake = openWakes.get(t.wakeId);
    if (wake != null) {
      checkDone(wake);
    }
    ObjectNode r = Json.object();
    r.put("id", id);
    r.put("state", t.state.name().toLowerCase());
    return w.thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> scheduleRefresh(ClientConnection c, ObjectNode b) {
    String appId = targetApp(c, b);
    Instant preferred = b.has("preferredDate") ? Instant.ofEpochMilli(b.path("preferredDate").asLong()) : clock.now();
    JsonNode userInfo = b.path("userInfo");
    if (!userInfo.isMissingNode() && !userInfo.isNull() && !userInfo.isObject()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "userInfo must be a map with string keys");
    }
    String info = userInfo.isObject() ? Json.write(userInfo) : null;
    if (info != null && info.length() > 64 * 1024) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, "userInfo is larger than 64 KiB");
    }
    PendingTask t = enqueue(appId, TaskKind.APP_REFRESH, null, info, preferred, "scheduled by the app", false);
    ObjectNode r = Json.object();
    r.put("id", t.id);
    r.put("app", appId);
    r.put("preferredDate", t.dueAt.toEpochMilli());
    r.put("coalesced", t.coalesced);
    return pendingWrites().thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> trigger(ClientConnection c, ObjectNode b) {
    String appId = targetApp(c, b);
    TaskKind kind = TaskKind.fromWire(b.path("kind").asText(""));
    String session = b.path("sessionIdentifier").asText(null);
    if (kind == TaskKind.URL_SESSION && (session == null || session.isBlank())) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "a URL-session task needs a session identifier");
    }
    JsonNode userInfo = b.path("userInfo");
    String info = userInfo.isObject() ? Json.write(userInfo) : null;
    boolean bypass = b.path("bypassBudget").asBoolean(true);
    PendingTask t = enqueue(appId, kind, kind == TaskKind.URL_SESSION ? session : null, info, clock.now(),
        b.path("reason").asText(bypass ? "triggered" : "signalled"), bypass);
    ObjectNode r = Json.object();
    r.put("id", t.id);
    return pendingWrites().thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> expireNow(ClientConnection c, ObjectNode b) {
    String appId = targetApp(c, b);
    Wake w = joinableWake(appId);
    if (w == null) {
      throw new TetherException(ErrorCode.INVALID_STATE, "no wake of " + appId + " is running");
    }
    if (w.expireTimer != null) {
      w.expireTimer.cancel();
    }
    if (w.endTimer != null) {
      w.endTimer.cancel();
    }
    w.expireAt = clock.now();
    if (w.connection != null && sendExpiring(w)) {
      w.expireRequested = true;
    } else {
      allowanceOver(w);
    }
    return done(Json.object().put("wakeId", w.id));
  }

  // ---------------------------------------------------------------- the engine

  /** Adds a task (or coalesces it with an open one of the same app, kind and session) and evaluates. */
  private PendingTask enqueue(String appId, TaskKind kind, String session, String userInfo, Instant due, String reason, boolean bypass) {
    if (appId == null || !IpcServer.APP_ID.matcher(appId).matches()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "app id '" + appId + "' is not valid");
    }
    Instant now = clock.now();
    PendingTask existing = null;
    for (PendingTask t : tasks.values()) {
      if (!t.appId.equals(appId) || t.kind != kind || t.done()) {
        continue;
      }
      if (kind == TaskKind.APP_REFRESH) {
        if (t.state == PendingTask.State.PENDING && t.wakeId == null) {
          existing = t;
        }
      } else if (kind == TaskKind.CONNECTIVITY || java.util.Objects.equals(t.sessionIdentifier, session)) {
        existing = t;
      }
    }
    PendingTask task;
    if (existing != null && kind != TaskKind.APP_REFRESH) {
      existing.coalesced++;
      existing.reason = reason;
      existing.bypassBudget |= bypass;
      task = existing;
    } else {
      task = new PendingTask(newId(), appId, kind, session, now);
      task.userInfo = userInfo;
      task.dueAt = due;
      task.reason = reason;
      task.bypassBudget = bypass;
      if (existing != null) {
        task.coalesced = existing.coalesced + 1;
        tasks.remove(existing.id);
        deleteTask(existing.id);
      }
      tasks.put(task.id, task);
    }
    saveTask(task);
    log.debug("{} task {} for {} ({})", existing == null ? "new" : "coalesced", task.describe(), appId, reason);
    evaluate();
    return task;
  }

  private void evaluate() {
    if (closed || !accepting) {
      return;
    }
    Instant now = clock.now();
    prune(now);
    Instant next = null;
    Map<String, List<PendingTask>> byApp = new LinkedHashMap<>();
    for (PendingTask t : tasks.values()) {
      if (t.state == PendingTask.State.PENDING && t.wakeId == null) {
        byApp.computeIfAbsent(t.appId, k -> new ArrayList<>()).add(t);
      }
    }
    for (Map.Entry<String, List<PendingTask>> e : byApp.entrySet()) {
      List<PendingTask> ready = new ArrayList<>();
      for (PendingTask t : e.getValue()) {
        Waiting w = waiting(t, now);
        if (w == null) {
          ready.add(t);
        } else if (w.until() != null && (next == null || w.until().isBefore(next))) {
          next = w.until();
        }
      }
      if (!ready.isEmpty()) {
        dispatch(e.getKey(), ready, now);
      }
    }
    scheduleCheck(next, now);
  }

  private void scheduleCheck(Instant next, Instant now) {
    if (next == null) {
      if (checkTimer != null) {
        checkTimer.cancel();
        checkTimer = null;
        checkAt = null;
      }
      return;
    }
    if (checkTimer != null && checkAt != null && !checkAt.isAfter(next) && checkAt.isAfter(now)) {
      return;
    }
    if (checkTimer != null) {
      checkTimer.cancel();
    }
    Instant at = next;
    checkAt = at;
    checkTimer = clock.schedule(at, () -> submit(() -> {
      if (at.equals(checkAt)) {
        checkTimer = null;
        checkAt = null;
      }
      evaluate();
    }));
  }

  private void prune(Instant now) {
    Instant dayAgo = now.minus(Budget.DAY);
    for (List<WakeStat> l : recent.values()) {
      l.removeIf(s -> s.started.isBefore(dayAgo));
    }
  }

  /** Why {@code t} cannot be delivered now, or null when it can. */
  private Waiting waiting(PendingTask t, Instant now) {
    AppConfig app = apps.get(t.appId);
    if (t.notBefore != null && t.notBefore.isAfter(now)) {
      return new Waiting(WaitReason.RETRY, t.notBefore, "a previous wake for it failed (attempt " + t.attempts + ")");
    }
    if (t.kind == TaskKind.APP_REFRESH && !t.bypassBudget && t.dueAt.isAfter(now)) {
      return new Waiting(WaitReason.SCHEDULED, t.dueAt, "its preferred date has not come");
    }
    if (app != null && app.forceQuit) {
      return new Waiting(WaitReason.FORCE_QUIT, null, "the user force-quit the app; it waits until the app runs in the foreground again");
    }
    if (t.kind == TaskKind.APP_REFRESH && inForeground(t.appId)) {
      return new Waiting(WaitReason.FOREGROUND, null, "application refresh is not delivered while the app is in the foreground");
    }
    Wake joinable = joinableWake(t.appId);
    if (joinable == null && listeningConnection(t.appId) == null) {
      if (hasOpenWake(t.appId)) {
        return new Waiting(WaitReason.APP_BUSY, null, "the app's previous wake is ending");
      }
      if (hasAppConnection(t.appId)) {
        return new Waiting(WaitReason.APP_BUSY, null, "the app runs without a task handler; delivered once it sets one or exits");
      }
      if (app == null) {
        return new Waiting(WaitReason.UNREGISTERED, null, "no app " + t.appId + " is registered; register it with 'tether app register "
            + t.appId + " --launch CMD'");
      }
    }
    if (joinable != null) {
      if (t.kind == TaskKind.APP_REFRESH) {
        return new Waiting(WaitReason.APP_BUSY, null, "an application refresh gets a wake of its own, after the current one");
      }
      return null;
    }
    if (!t.kind.budgeted() || t.bypassBudget) {
      return null;
    }
    if (holdWakes) {
      return new Waiting(WaitReason.CONDITIONS, null, "wakes are held (conditions not met)");
    }
    AppConfig cfg = app != null ? app : defaults(t.appId);
    Budget b = new Budget(cfg, recent.getOrDefault(t.appId, List.of()), now);
    if (b.noWakesAllowed()) {
      return new Waiting(WaitReason.BUDGET, null, "the app's budget is 0 wakes per hour");
    }
    if (b.runtimeFreesAt != null) {
      return new Waiting(WaitReason.RUNTIME, b.runtimeFreesAt, "used " + b.runtimeUsedMs / 1000 + " s of its "
          + b.runtimeDailyMs / 1000 + " s daily background runtime");
    }
    if (b.windowFreesAt != null) {
      return new Waiting(WaitReason.BUDGET, b.windowFreesAt, "used " + b.wakesUsed + " of " + b.wakesPerHour + " wakes this hour");
    }
    if (t.kind == TaskKind.URL_SESSION && b.nextUrlSessionAt != null) {
      return new Waiting(WaitReason.SPACING, b.nextUrlSessionAt, "URL-session wakes are kept "
          + cfg.urlSessionSpacing.toMinutes() + " min apart");
    }
    return null;
  }

  private static AppConfig defaults(String appId) {
    return new AppConfig(appId);
  }

  private void dispatch(String appId, List<PendingTask> ready, Instant now) {
    Wake w = joinableWake(appId);
    if (w != null) {
      for (PendingTask t : ready) {
        t.wakeId = w.id;
        w.tasks.add(t);
        saveTask(t);
        if (t.kind.budgeted()) {
          w.stat.budgeted = true;
        }
        if (t.kind == TaskKind.URL_SESSION) {
          w.stat.urlSession = true;
        }
      }
      saveWakeTasks(w);
      ConnState s = w.connection == null ? null : conns.get(w.connection);
      if (s != null && s.listening) {
        deliver(w, ready);
      }
      return;
    }
    ClientConnection c = listeningConnection(appId);
    if (c != null) {
      w = newWake(appId, false, ready, now);
      w.connection = c;
      conns.get(c).wake = w;
      startAllowance(w);
      deliver(w, ready);
      return;
    }
    AppConfig app = apps.get(appId);
    if (app == null) {
      return;
    }
    w = newWake(appId, true, ready, now);
    launch(w, app);
  }

  private Wake newWake(String appId, boolean launched, List<PendingTask> ready, Instant now) {
    boolean budgeted = false;
    boolean url = false;
    for (PendingTask t : ready) {
      budgeted |= t.kind.budgeted();
      url |= t.kind == TaskKind.URL_SESSION;
    }
    WakeStat stat = new WakeStat(now, budgeted, url, 0);
    recent.computeIfAbsent(appId, k -> new ArrayList<>()).add(stat);
    Wake w = new Wake(newId(), appId, now, launched, stat);
    w.tasks.addAll(ready);
    openWakes.put(w.id, w);
    updateBusy(w);
    for (PendingTask t : ready) {
      t.wakeId = w.id;
      saveTask(t);
    }
    String reason = w.reason();
    String taskJson = Json.write(tasksJson(w, false));
    int budgetedFlag = budgeted ? 1 : 0;
    int urlFlag = url ? 1 : 0;
    write(conn -> {
      try (PreparedStatement p = conn.prepareStatement("INSERT INTO task_wakes(id, app_id, started_at, launched, reason, tasks,"
          + " budgeted, url_session) VALUES (?,?,?,?,?,?,?,?)")) {
        p.setString(1, w.id);
        p.setString(2, appId);
        p.setLong(3, now.toEpochMilli());
        p.setInt(4, launched ? 1 : 0);
        p.setString(5, reason);
        p.setString(6, taskJson);
        p.setInt(7, budgetedFlag);
        p.setInt(8, urlFlag);
        p.executeUpdate();
      }
      return null;
    });
    log.info("wake {} for {} ({}): {}", w.id, appId, launched ? "launching" : "running app", w.reason());
    return w;
  }

  private void startAllowance(Wake w) {
    AppConfig cfg = apps.getOrDefault(w.appId, defaults(w.appId));
    w.endAt = w.started.plus(cfg.allowance);
    w.expireAt = w.endAt.minus(cfg.expirationLead());
    w.expireTimer = clock.schedule(w.expireAt, () -> submit(() -> expiring(w)));
    w.endTimer = clock.schedule(w.endAt, () -> submit(() -> allowanceOver(w)));
  }

  private void launch(Wake w, AppConfig app) {
    startAllowance(w);
    Map<String, String> env = new HashMap<>();
    env.put(Protocol.ENV_LAUNCHED_IN_BACKGROUND, "1");
    env.put(Protocol.ENV_APP_ID, app.appId);
    env.put(Protocol.ENV_WAKE_ID, w.id);
    env.put(Protocol.ENV_HOME, context.home().toString());
    LaunchRequest request = new LaunchRequest(app.appId, w.id, app.launchCommand, env,
        TetherPaths.logDir(context.home()).resolve("apps").resolve(app.appId + ".log"));
    try {
      w.process = launcher.launch(request);
    } catch (Exception e) {
      log.warn("could not launch {}: {}", app.appId, e.toString());
      endWake(w, WakeOutcome.CRASHED, "could not launch '" + app.launchCommand + "': " + e.getMessage());
      return;
    }
    long pid = w.process.pid();
    write(conn -> {
      try (PreparedStatement p = conn.prepareStatement("UPDATE task_wakes SET pid = ? WHERE id = ?")) {
        p.setLong(1, pid);
        p.setString(2, w.id);
        p.executeUpdate();
      }
      return null;
    });
    w.process.onExit().whenComplete((code, failure) -> submit(() -> processExited(w, code == null ? -1 : code)));
  }

  private void deliver(Wake w, List<PendingTask> list) {
    ArrayNode arr = Json.array();
    for (PendingTask t : list) {
      t.state = PendingTask.State.DELIVERED;
      saveTask(t);
      ObjectNode o = arr.addObject();
      o.put("id", t.id);
      o.put("kind", t.kind.wire());
      if (t.sessionIdentifier != null) {
        o.put("sessionIdentifier", t.sessionIdentifier);
      }
      if (t.userInfo != null) {
        o.set("userInfo", Json.parse(t.userInfo));
      }
      if (t.reason != null) {
        o.put("reason", t.reason);
      }
    }
    ObjectNode body = Json.object();
    body.put("wakeId", w.id);
    body.put("launched", w.launched);
    if (w.expireAt != null) {
      body.put("expiresAt", w.expireAt.toEpochMilli());
    }
    body.set("tasks", arr);
    w.awaitingAck++;
    if (w.phase == Wake.Phase.LAUNCHING || w.phase == Wake.Phase.RUNNING) {
      setPhase(w, Wake.Phase.DELIVERING);
    } else {
      updateBusy(w);
    }
    w.connection.push("tasks", body);
    saveWakeTasks(w);
  }

  private void checkDone(Wake w) {
    if (w.phase != Wake.Phase.DELIVERING && w.phase != Wake.Phase.RUNNING) {
      return;
    }
    if (w.awaitingAck > 0 || !w.allDone()) {
      return;
    }
    if (w.launched && w.process != null) {
      askToExit(w, "tasksCompleted");
    } else {
      endWake(w, WakeOutcome.COMPLETED, null);
    }
  }

  private void askToExit(Wake w, String reason) {
    setPhase(w, Wake.Phase.EXITING);
    if (w.expireTimer != null) {
      w.expireTimer.cancel();
      w.expireTimer = null;
    }
    if (w.connection != null) {
      ObjectNode exit = Json.object();
      exit.put("wakeId", w.id);
      exit.put("reason", reason);
      w.connection.push("app.exit", exit);
    }
    if (w.exitTimer != null) {
      w.exitTimer.cancel();
    }
    w.exitTimer = clock.schedule(clock.now().plus(EXIT_GRACE), () -> submit(() -> {
      if (w.phase == Wake.Phase.ENDED) {
        return;
      }
      log.info("{} did not exit within {} s of being asked; sending SIGTERM", w.appId, EXIT_GRACE.toSeconds());
      w.process.terminate();
      w.exitTimer = clock.schedule(clock.now().plus(KILL_GRACE), () -> submit(() -> {
        if (w.phase != Wake.Phase.ENDED) {
          log.info("{} did not end after SIGTERM; sending SIGKILL", w.appId);
          w.process.kill();
        }
      }));
    }));
  }

  private boolean sendExpiring(Wake w) {
    ArrayNode ids = Json.array();
    for (PendingTask t : w.tasks) {
      if (t.state == PendingTask.State.DELIVERED) {
        ids.add(t.id);
      }
    }
    w.expirationSent = true;
    if (ids.isEmpty() || w.connection == null) {
      return false;
    }
    ObjectNode body = Json.object();
    body.put("wakeId", w.id);
    body.set("taskIds", ids);
    w.awaitingAck++;
    updateBusy(w);
    w.connection.push("tasks.expiring", body);
    return true;
  }

  private void expiring(Wake w) {
    if (!w.joinable() || w.expirationSent) {
      return;
    }
    log.info("wake {} of {}: allowance ends at {}, running expiration handlers", w.id, w.appId, w.endAt);
    sendExpiring(w);
  }

  private void allowanceOver(Wake w) {
    if (!w.joinable()) {
      return;
    }
    w.expiredByAllowance = true;
    if (w.connection != null) {
      ArrayNode ids = Json.array();
      for (PendingTask t : w.tasks) {
        if (!t.done()) {
          ids.add(t.id);
        }
      }
      ObjectNode body = Json.object();
      body.put("wakeId", w.id);
      body.set("taskIds", ids);
      w.connection.push("tasks.expired", body);
    }
    if (w.launched && w.process != null) {
      log.info("wake {} of {}: allowance over with tasks not completed; ending the app", w.id, w.appId);
      setPhase(w, Wake.Phase.ENDING);
      w.process.kill();
    } else {
      endWake(w, WakeOutcome.EXPIRED, "the allowance ran out with tasks not completed");
    }
  }

  private void processExited(Wake w, int code) {
    if (w.phase == Wake.Phase.ENDED) {
      return;
    }
    boolean everDelivered = false;
    for (PendingTask t : w.tasks) {
      everDelivered |= t.state != PendingTask.State.PENDING;
    }
    if (w.forcedOutcome != null) {
      endWake(w, w.forcedOutcome, w.forcedReason);
    } else if (w.allDone() && everDelivered) {
      endWake(w, WakeOutcome.COMPLETED, null);
    } else if (w.expiredByAllowance) {
      AppConfig cfg = apps.getOrDefault(w.appId, defaults(w.appId));
      endWake(w, WakeOutcome.EXPIRED, "the allowance of " + cfg.allowance.toMillis() / 1000.0
          + " s ran out with tasks not completed; the app was ended and charged");
    } else {
      String tail = w.process.outputTail();
      String what = w.connectedOnce ? "exited with status " + code + " before completing its tasks"
          : "exited with status " + code + " before connecting to tetherd";
      if (code == 127) {
        what += " (127: the launch command was not found)";
      }
      endWake(w, WakeOutcome.CRASHED, what + (tail.isEmpty() ? "" : "; its last output: " + tail));
    }
  }

  private void endWake(Wake w, WakeOutcome outcome, String error) {
    if (w.phase == Wake.Phase.ENDED) {
      return;
    }
    w.cancelTimers();
    setPhase(w, Wake.Phase.ENDED);
    openWakes.remove(w.id);
    Instant now = clock.now();
    long duration = Math.max(0, now.toEpochMilli() - w.started.toEpochMilli());
    AppConfig cfg = apps.getOrDefault(w.appId, defaults(w.appId));
    long overrun = outcome == WakeOutcome.EXPIRED && w.expireAt != null ? Math.max(0, now.toEpochMilli() - w.expireAt.toEpochMilli()) : 0;
    long charged = (w.launched ? duration : 0) + (outcome == WakeOutcome.EXPIRED ? cfg.allowance.toMillis() : 0);
    w.stat.chargedMs = charged;
    ArrayNode taskJson = Json.array();
    for (PendingTask t : w.tasks) {
      ObjectNode j = taskEntry(t);
      if (t.done()) {
        j.put("state", t.state == PendingTask.State.COMPLETED ? "completed" : "failed");
        if (t.failure != null) {
          j.put("error", t.failure);
        }
        tasks.remove(t.id);
        deleteTask(t.id);
      } else if (t.state == PendingTask.State.DELIVERED && t.kind == TaskKind.APP_REFRESH) {
        j.put("state", outcome.name().toLowerCase(java.util.Locale.ROOT));
        tasks.remove(t.id);
        deleteTask(t.id);
      } else {
        j.put("state", "requeued");
        requeue(t, now);
      }
      taskJson.add(j);
    }
    if (w.connection != null) {
      ConnState s = conns.get(w.connection);
      if (s != null && s.wake == w) {
        s.wake = null;
      }
    }
    String reason = w.reason();
    int budgetedFlag = w.stat.budgeted ? 1 : 0;
    int urlFlag = w.stat.urlSession ? 1 : 0;
    log.info("wake {} of {} ended: {} after {} ms{}", w.id, w.appId, outcome, duration, error == null ? "" : " (" + error + ")");
    write(conn -> {
      try (PreparedStatement p = conn.prepareStatement("UPDATE task_wakes SET ended_at = ?, outcome = ?, duration_ms = ?,"
          + " overrun_ms = ?, charged_ms = ?, error = ?, tasks = ?, reason = ?, budgeted = ?, url_session = ? WHERE id = ?")) {
        p.setLong(1, now.toEpochMilli());
        p.setString(2, outcome.name());
        p.setLong(3, duration);
        p.setLong(4, overrun);
        p.setLong(5, charged);
        p.setString(6, error);
        p.setString(7, Json.write(taskJson));
        p.setString(8, reason);
        p.setInt(9, budgetedFlag);
        p.setInt(10, urlFlag);
        p.setString(11, w.id);
        p.executeUpdate();
      }
      return null;
    });
    evaluate();
  }

  private void requeue(PendingTask t, Instant now) {
    t.state = PendingTask.State.PENDING;
    t.wakeId = null;
    t.attempts++;
    long backoffMs = Math.min(Duration.ofHours(1).toMillis(), Duration.ofMinutes(1).toMillis() << Math.min(6, t.attempts - 1));
    t.notBefore = now.plusMillis(backoffMs);
    for (PendingTask other : tasks.values()) {
      if (other != t && other.appId.equals(t.appId) && other.kind == t.kind && !other.done() && other.wakeId == null
          && java.util.Objects.equals(other.sessionIdentifier, t.sessionIdentifier)) {
        other.coalesced += 1 + t.coalesced;
        saveTask(other);
        tasks.remove(t.id);
        deleteTask(t.id);
        return;
      }
    }
    saveTask(t);
  }

  // ---------------------------------------------------------------- queries

  private Wake joinableWake(String appId) {
    for (Wake w : openWakes.values()) {
      if (w.appId.equals(appId) && w.joinable()) {
        return w;
      }
    }
    return null;
  }

  private boolean hasOpenWake(String appId) {
    for (Wake w : openWakes.values()) {
      if (w.appId.equals(appId)) {
        return true;
      }
    }
    return false;
  }

  private ClientConnection listeningConnection(String appId) {
    for (ConnState s : conns.values()) {
      if (s.listening && s.wake == null && !s.launchedForWake && appId.equals(s.connection.appId()) && s.connection.isOpen()) {
        return s.connection;
      }
    }
    return null;
  }

  private boolean hasAppConnection(String appId) {
    for (ConnState s : conns.values()) {
      if (appId.equals(s.connection.appId()) && s.connection.isOpen()) {
        return true;
      }
    }
    return false;
  }

  private boolean inForeground(String appId) {
    for (ConnState s : conns.values()) {
      if (s.foreground && appId.equals(s.connection.appId()) && s.connection.isOpen()) {
        return true;
      }
    }
    return false;
  }

  private AppConfig requireApp(String appId) {
    AppConfig app = apps.get(appId);
    if (app == null) {
      throw unknownApp(appId);
    }
    return app;
  }

  private static TetherException unknownApp(String appId) {
    return new TetherException(ErrorCode.UNKNOWN_APP, "no app " + appId + " is registered; see 'tether apps', or register it with"
        + " 'tether app register " + appId + " --launch CMD'");
  }

  /** The app a request acts on: its {@code app} field (the CLI and the test kit act for any app), else the caller. */
  private static String targetApp(ClientConnection c, ObjectNode b) {
    String app = b.path("app").asText(null);
    if (app == null) {
      return c.appId();
    }
    if (!IpcServer.APP_ID.matcher(app).matches()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "app id '" + app + "' is not valid: use reverse-DNS letters,"
          + " digits, '.', '-' and '_' (e.g. com.example.weather)");
    }
    if (!actsForUser(c) && !app.equals(c.appId())) {
      throw new TetherException(ErrorCode.PERMISSION_DENIED, "app " + c.appId() + " cannot act for app " + app
          + "; an app acts only for itself (the tether CLI acts for any app)");
    }
    return app;
  }

  private ObjectNode listApps() {
    Instant now = clock.now();
    ArrayNode arr = Json.array();
    for (AppConfig app : apps.values()) {
      arr.add(appJson(app, now));
    }
    ObjectNode r = Json.object();
    r.set("apps", arr);
    return r;
  }

  private ObjectNode appJson(AppConfig app, Instant now) {
    ObjectNode o = Json.object();
    o.put("app", app.appId);
    o.put("launch", app.launchCommand);
    o.put("allowanceMs", app.allowance.toMillis());
    o.put("complicationActive", app.complicationActive);
    if (app.wakesPerHour == null) {
      o.putNull("wakesPerHourSetting");
    } else {
      o.put("wakesPerHourSetting", app.wakesPerHour);
    }
    o.put("dailyRuntimeMs", app.dailyRuntime.toMillis());
    o.put("urlSessionSpacingMs", app.urlSessionSpacing.toMillis());
    o.put("forceQuit", app.forceQuit);
    o.put("running", hasAppConnection(app.appId) || hasOpenWake(app.appId));
    o.put("foreground", inForeground(app.appId));
    o.put("registeredAt", app.registeredAt == null ? null : app.registeredAt.toString());
    int pending = 0;
    for (PendingTask t : tasks.values()) {
      if (t.appId.equals(app.appId) && !t.done()) {
        pending++;
      }
    }
    o.put("pendingTasks", pending);
    Budget b = new Budget(app, recent.getOrDefault(app.appId, List.of()), now);
    ObjectNode bj = o.putObject("budget");
    bj.put("wakesPerHour", b.wakesPerHour);
    bj.put("wakesUsed", b.wakesUsed);
    bj.put("wakesRemaining", b.wakesRemaining());
    bj.put("windowFreesAt", b.windowFreesAt == null ? null : b.windowFreesAt.toString());
    bj.put("runtimeDailyMs", b.runtimeDailyMs);
    bj.put("runtimeUsedMs", b.runtimeUsedMs);
    bj.put("runtimeRemainingMs", b.runtimeRemainingMs());
    bj.put("runtimeFreesAt", b.runtimeFreesAt == null ? null : b.runtimeFreesAt.toString());
    bj.put("nextUrlSessionWakeAt", b.nextUrlSessionAt == null ? null : b.nextUrlSessionAt.toString());
    return o;
  }

  private ObjectNode timeline(ObjectNode b) {
    String app = b.path("app").asText(null);
    if (app != null && !apps.containsKey(app)) {
      boolean known = tasks.values().stream().anyMatch(t -> t.appId.equals(app))
          || store.read(c -> {
            try (PreparedStatement p = c.prepareStatement("SELECT 1 FROM task_wakes WHERE app_id = ? LIMIT 1")) {
              p.setString(1, app);
              try (ResultSet rs = p.executeQuery()) {
                return rs.next();
              }
            }
          });
      if (!known) {
        throw unknownApp(app);
      }
    }
    int limit = Math.max(1, Math.min(10_000, b.path("limit").asInt(TIMELINE_LIMIT)));
    Instant now = clock.now();
    ArrayNode wakes = store.read(c -> {
      String sql = "SELECT id, app_id, started_at, ended_at, launched, reason, tasks, outcome, pid, duration_ms, overrun_ms,"
          + " charged_ms, error FROM task_wakes" + (app == null ? "" : " WHERE app_id = ?") + " ORDER BY started_at DESC, rowid DESC LIMIT ?";
      ArrayNode arr = Json.array();
      try (PreparedStatement p = c.prepareStatement(sql)) {
        int i = 1;
        if (app != null) {
          p.setString(i++, app);
        }
        p.setInt(i, limit);
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            ObjectNode o = arr.addObject();
            o.put("id", rs.getString(1));
            o.put("app", rs.getString(2));
            o.put("startedAt", Instant.ofEpochMilli(rs.getLong(3)).toString());
            long ended = rs.getLong(4);
            o.put("endedAt", rs.wasNull() ? null : Instant.ofEpochMilli(ended).toString());
            o.put("launched", rs.getInt(5) == 1);
            o.put("reason", rs.getString(6));
            o.set("tasks", Json.parse(rs.getString(7)));
            o.put("outcome", rs.getString(8));
            long pid = rs.getLong(9);
            if (!rs.wasNull()) {
              o.put("pid", pid);
            }
            long d = rs.getLong(10);
            if (!rs.wasNull()) {
              o.put("durationMs", d);
            }
            o.put("overrunMs", rs.getLong(11));
            o.put("chargedMs", rs.getLong(12));
            o.put("error", rs.getString(13));
          }
        }
      }
      return arr;
    });
    for (com.fasterxml.jackson.databind.JsonNode n : wakes) {
      ObjectNode o = (ObjectNode) n;
      Wake open = openWakes.get(o.path("id").asText());
      if (open != null && o.path("outcome").isNull()) {
        o.put("phase", open.phase.name());
        o.set("tasks", tasksJson(open, true));
        o.put("durationMs", now.toEpochMilli() - open.started.toEpochMilli());
      }
    }
    ArrayNode waiting = Json.array();
    for (PendingTask t : tasks.values()) {
      if ((app != null && !t.appId.equals(app)) || t.state != PendingTask.State.PENDING || t.wakeId != null) {
        continue;
      }
      ObjectNode o = taskEntry(t);
      o.put("app", t.appId);
      o.put("dueAt", t.dueAt.toString());
      o.put("createdAt", t.createdAt.toString());
      Waiting w = waiting(t, now);
      o.put("reason", w == null ? "READY" : w.reason().name());
      o.put("until", w == null || w.until() == null ? null : w.until().toString());
      o.put("detail", w == null ? "about to be delivered" : w.detail());
      if (t.reason != null) {
        o.put("cause", t.reason);
      }
      waiting.add(o);
    }
    ObjectNode r = Json.object();
    r.put("now", now.toString());
    r.set("wakes", wakes);
    r.set("waiting", waiting);
    return r;
  }

  private static ObjectNode taskEntry(PendingTask t) {
    ObjectNode j = Json.object();
    j.put("id", t.id);
    j.put("kind", t.kind.wire());
    if (t.sessionIdentifier != null) {
      j.put("sessionIdentifier", t.sessionIdentifier);
    }
    if (t.userInfo != null) {
      j.set("userInfo", Json.parse(t.userInfo));
    }
    j.put("coalesced", t.coalesced);
    if (t.attempts > 0) {
      j.put("attempts", t.attempts);
    }
    return j;
  }

  private static ArrayNode tasksJson(Wake w, boolean withState) {
    ArrayNode arr = Json.array();
    for (PendingTask t : w.tasks) {
      ObjectNode j = taskEntry(t);
      if (withState) {
        j.put("state", t.state.name().toLowerCase());
      }
      arr.add(j);
    }
    return arr;
  }

  // ---------------------------------------------------------------- store

  private void load() {
    Instant now = clock.now();
    store.read(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT app_id, launch_command, allowance_ms, wakes_per_hour, complication_active,"
          + " daily_runtime_ms, url_session_spacing_ms, force_quit, registered_at FROM task_apps ORDER BY app_id");
           ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          AppConfig a = new AppConfig(rs.getString(1));
          a.launchCommand = rs.getString(2);
          a.allowance = Duration.ofMillis(rs.getLong(3));
          int wph = rs.getInt(4);
          a.wakesPerHour = rs.wasNull() ? null : wph;
          a.complicationActive = rs.getInt(5) == 1;
          a.dailyRuntime = Duration.ofMillis(rs.getLong(6));
          a.urlSessionSpacing = Duration.ofMillis(rs.getLong(7));
          a.forceQuit = rs.getInt(8) == 1;
          a.registeredAt = Instant.ofEpochMilli(rs.getLong(9));
          apps.put(a.appId, a);
        }
      }
      try (PreparedStatement p = c.prepareStatement("SELECT id, app_id, kind, session_identifier, user_info, due_at, created_at,"
          + " state, wake_id, reason, not_before, attempts, bypass_budget, coalesced FROM task_pending ORDER BY created_at, rowid");
           ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          PendingTask t = new PendingTask(rs.getString(1), rs.getString(2), TaskKind.fromWire(rs.getString(3)), rs.getString(4),
              Instant.ofEpochMilli(rs.getLong(7)));
          t.userInfo = rs.getString(5);
          t.dueAt = Instant.ofEpochMilli(rs.getLong(6));
          t.state = PendingTask.State.valueOf(rs.getString(8));
          t.wakeId = rs.getString(9);
          t.reason = rs.getString(10);
          long nb = rs.getLong(11);
          t.notBefore = rs.wasNull() ? null : Instant.ofEpochMilli(nb);
          t.attempts = rs.getInt(12);
          t.bypassBudget = rs.getInt(13) == 1;
          t.coalesced = rs.getInt(14);
          tasks.put(t.id, t);
        }
      }
      return null;
    });
    // Wakes left open by a daemon that stopped or was killed: end their processes and give their tasks back.
    List<Object[]> open = store.read(c -> {
      List<Object[]> l = new ArrayList<>();
      try (PreparedStatement p = c.prepareStatement("SELECT id, app_id, started_at, pid, launched FROM task_wakes WHERE ended_at IS NULL");
           ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          long pid = rs.getLong(4);
          l.add(new Object[] {rs.getString(1), rs.getString(2), rs.getLong(3), rs.wasNull() ? null : pid, rs.getInt(5) == 1});
        }
      }
      return l;
    });
    for (Object[] row : open) {
      String id = (String) row[0];
      long started = (Long) row[2];
      Long pid = (Long) row[3];
      if (pid != null && (Boolean) row[4]) {
        ProcessHandle.of(pid).ifPresent(h -> {
          boolean ours = h.info().startInstant().map(s -> !s.isBefore(Instant.ofEpochMilli(started).minusSeconds(5))).orElse(false);
          if (ours) {
            log.info("ending process {} left from wake {} of a previous tetherd", pid, id);
            h.descendants().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
          }
        });
      }
      long duration = Math.max(0, now.toEpochMilli() - started);
      for (PendingTask t : tasks.values()) {
        if (id.equals(t.wakeId)) {
          t.wakeId = null;
          t.state = PendingTask.State.PENDING;
        }
      }
      store.writeAndWait(c -> {
        try (PreparedStatement p = c.prepareStatement("UPDATE task_wakes SET ended_at = ?, outcome = ?, duration_ms = ?, error = ?,"
            + " budgeted = 0, url_session = 0 WHERE id = ?")) {
          p.setLong(1, now.toEpochMilli());
          p.setString(2, WakeOutcome.KILLED.name());
          p.setLong(3, duration);
          p.setString(4, "tetherd stopped during this wake; its tasks were given back");
          p.setString(5, id);
          p.executeUpdate();
        }
        try (PreparedStatement p = c.prepareStatement("UPDATE task_pending SET state = 'PENDING', wake_id = NULL WHERE wake_id = ?")) {
          p.setString(1, id);
          p.executeUpdate();
        }
        return null;
      });
    }
    // No app is connected after a start.
    store.writeAndWait(c -> {
      try (PreparedStatement p = c.prepareStatement("UPDATE task_apps SET foreground = 0 WHERE foreground != 0")) {
        p.executeUpdate();
      }
      return null;
    });
    // No wake is open after a start: completed tasks whose wake was not recorded as ended are done; the others wait again.
    for (PendingTask t : List.copyOf(tasks.values())) {
      if (t.done()) {
        tasks.remove(t.id);
        deleteTask(t.id);
      } else if (t.wakeId != null || t.state != PendingTask.State.PENDING) {
        t.wakeId = null;
        t.state = PendingTask.State.PENDING;
        saveTask(t);
      }
    }
    store.read(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT app_id, started_at, budgeted, url_session, charged_ms FROM task_wakes"
          + " WHERE started_at > ? AND outcome IS NOT 'REFUSED'")) {
        p.setLong(1, now.minus(Budget.DAY).toEpochMilli());
        try (ResultSet rs = p.executeQuery()) {
          while (rs.next()) {
            recent.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(new WakeStat(Instant.ofEpochMilli(rs.getLong(2)),
                rs.getInt(3) == 1, rs.getInt(4) == 1, rs.getLong(5)));
          }
        }
      }
      return null;
    });
    log.info("task service: {} app(s) registered, {} task(s) pending", apps.size(), tasks.size());
  }

  private CompletableFuture<Void> saveApp(AppConfig a) {
    String appId = a.appId;
    String launch = a.launchCommand;
    long allowance = a.allowance.toMillis();
    Integer wph = a.wakesPerHour;
    boolean complication = a.complicationActive;
    long daily = a.dailyRuntime.toMillis();
    long spacing = a.urlSessionSpacing.toMillis();
    boolean forceQuit = a.forceQuit;
    boolean foreground = inForeground(appId);
    long registered = a.registeredAt == null ? clock.now().toEpochMilli() : a.registeredAt.toEpochMilli();
    return write(c -> {
      try (PreparedStatement p = c.prepareStatement("INSERT OR REPLACE INTO task_apps(app_id, launch_command, allowance_ms,"
          + " wakes_per_hour, complication_active, daily_runtime_ms, url_session_spacing_ms, force_quit, registered_at, foreground)"
          + " VALUES (?,?,?,?,?,?,?,?,?,?)")) {
        p.setString(1, appId);
        p.setString(2, launch);
        p.setLong(3, allowance);
        if (wph == null) {
          p.setNull(4, Types.INTEGER);
        } else {
          p.setInt(4, wph);
        }
        p.setInt(5, complication ? 1 : 0);
        p.setLong(6, daily);
        p.setLong(7, spacing);
        p.setInt(8, forceQuit ? 1 : 0);
        p.setLong(9, registered);
        p.setInt(10, foreground ? 1 : 0);
        p.executeUpdate();
      }
      return null;
    });
  }

  private CompletableFuture<Void> saveTask(PendingTask t) {
    String id = t.id;
    String appId = t.appId;
    String kind = t.kind.wire();
    String session = t.sessionIdentifier;
    String info = t.userInfo;
    long due = t.dueAt.toEpochMilli();
    long created = t.createdAt.toEpochMilli();
    String state = t.state.name();
    String wakeId = t.wakeId;
    String reason = t.reason;
    Long notBefore = t.notBefore == null ? null : t.notBefore.toEpochMilli();
    int attempts = t.attempts;
    boolean bypass = t.bypassBudget;
    int coalesced = t.coalesced;
    return write(c -> {
      try (PreparedStatement p = c.prepareStatement("INSERT OR REPLACE INTO task_pending(id, app_id, kind, session_identifier,"
          + " user_info, due_at, created_at, state, wake_id, reason, not_before, attempts, bypass_budget, coalesced)"
          + " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) {
        p.setString(1, id);
        p.setString(2, appId);
        p.setString(3, kind);
        p.setString(4, session);
        p.setString(5, info);
        p.setLong(6, due);
        p.setLong(7, created);
        p.setString(8, state);
        p.setString(9, wakeId);
        p.setString(10, reason);
        if (notBefore == null) {
          p.setNull(11, Types.INTEGER);
        } else {
          p.setLong(11, notBefore);
        }
        p.setInt(12, attempts);
        p.setInt(13, bypass ? 1 : 0);
        p.setInt(14, coalesced);
        p.executeUpdate();
      }
      return null;
    });
  }

  private void deleteTask(String id) {
    write(c -> {
      try (PreparedStatement p = c.prepareStatement("DELETE FROM task_pending WHERE id = ?")) {
        p.setString(1, id);
        p.executeUpdate();
      }
      return null;
    });
  }

  private void saveWakeTasks(Wake w) {
    String json = Json.write(tasksJson(w, false));
    String reason = w.reason();
    write(c -> {
      try (PreparedStatement p = c.prepareStatement("UPDATE task_wakes SET tasks = ?, reason = ? WHERE id = ? AND ended_at IS NULL")) {
        p.setString(1, json);
        p.setString(2, reason);
        p.setString(3, w.id);
        p.executeUpdate();
      }
      return null;
    });
  }

  private CompletableFuture<Void> lastWrite = CompletableFuture.completedFuture(null);

  /** Completes once every write queued so far has committed (writes commit in order). */
  private CompletableFuture<Void> pendingWrites() {
    return lastWrite;
  }

  private <T> CompletableFuture<T> write(SqlWork<T> work) {
    busy.incrementAndGet();
    CompletableFuture<T> f = store.write(work);
    f.whenComplete((v, e) -> {
      if (e != null) {
        log.error("task store write failed", e);
      }
      release();
    });
    CompletableFuture<Void> done = f.handle((v, e) -> null);
    lastWrite = done;
    return f;
  }

  // ---------------------------------------------------------------- the task thread and idleness

  private void handle(IpcServer ipc, String type, RequestHandler handler) {
    ipc.register(type, (c, b) -> {
      CompletableFuture<ObjectNode> result = new CompletableFuture<>();
      submit(() -> {
        try {
          CompletableFuture<ObjectNode> f = handler.handle(c, b);
          f.whenComplete((v, e) -> {
            if (e != null) {
              result.completeExceptionally(e);
            } else {
              result.complete(v);
            }
          });
        } catch (Throwable t) {
          result.completeExceptionally(t);
        }
      });
      return result;
    });
  }

  private static CompletableFuture<ObjectNode> done(ObjectNode body) {
    return CompletableFuture.completedFuture(body);
  }

  private void submit(Runnable work) {
    if (closed) {
      return;
    }
    busy.incrementAndGet();
    try {
      actor.execute(() -> {
        try {
          work.run();
        } catch (Throwable t) {
          log.error("task service step failed", t);
        } finally {
          release();
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      release();
    }
  }

  /** Runs {@code work} on the task thread and waits for it (start-up and tests). */
  <T> T onTaskThread(Callable<T> work) throws Exception {
    CompletableFuture<T> f = new CompletableFuture<>();
    submit(() -> {
      try {
        f.complete(work.call());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    return f.get(30, TimeUnit.SECONDS);
  }

  private void setPhase(Wake w, Wake.Phase phase) {
    w.phase = phase;
    updateBusy(w);
  }

  private void updateBusy(Wake w) {
    boolean b = w.phase.transitional() || (w.awaitingAck > 0 && w.phase != Wake.Phase.ENDED);
    if (b && !w.busy) {
      w.busy = true;
      busy.incrementAndGet();
    } else if (!b && w.busy) {
      w.busy = false;
      release();
    }
  }

  private void release() {
    if (busy.decrementAndGet() == 0) {
      List<CompletableFuture<ObjectNode>> ready;
      synchronized (idleWaiters) {
        if (busy.get() != 0) {
          return;
        }
        ready = List.copyOf(idleWaiters);
        idleWaiters.clear();
      }
      for (CompletableFuture<ObjectNode> f : ready) {
        f.complete(Json.object().put("idle", true));
      }
    }
  }

  /** Completes once the service has nothing in flight: no step queued, no write uncommitted, no wake in transition. */
  private CompletableFuture<ObjectNode> settled() {
    CompletableFuture<ObjectNode> f = new CompletableFuture<>();
    synchronized (idleWaiters) {
      if (busy.get() == 0) {
        f.complete(Json.object().put("idle", true));
      } else {
        idleWaiters.add(f);
      }
    }
    return f;
  }

  private static String newId() {
    return UUID.randomUUID().toString();
  }

  @Override
  public void close() {
    closed = true;
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    try {
      actor.execute(() -> {
        if (checkTimer != null) {
          checkTimer.cancel();
        }
        for (Wake w : openWakes.values()) {
          w.cancelTimers();
          if (w.process != null) {
            w.process.kill();
          }
        }
        stopped.complete(null);
      });
      stopped.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("task service did not stop cleanly: {}", e.toString());
    }
    actor.shutdown();
  }
}
