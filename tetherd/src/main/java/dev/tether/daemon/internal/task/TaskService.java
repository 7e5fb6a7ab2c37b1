package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.daemon.internal.BackgroundWork;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.task.launch.AppLauncher;
import dev.tether.daemon.internal.task.launch.LaunchRequest;
import dev.tether.daemon.internal.task.launch.ProcessLauncher;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import dev.tether.protocol.wire.TaskOp;
import dev.tether.protocol.wire.TaskPush;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
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

  private DaemonContext context;
  private Store store;
  private TaskStore db;
  private TetherClock clock;
  private AppLauncher launcher;
  private final Activity activity = new Activity();
  private final TaskActor actor = new TaskActor(activity);
  private final CopyOnWriteArrayList<Consumer<String>> forceQuitListeners = new CopyOnWriteArrayList<>();

  // Confined to the actor thread.
  private AppRegistry apps;
  private TaskQueue queue;
  private final WakeAdmission admission = new WakeAdmission();
  private final Map<String, Wake> openWakes = new LinkedHashMap<>();
  private final AppConnections connections = new AppConnections();
  private TetherClock.Timer checkTimer;
  private Instant checkAt;
  private boolean holdWakes;
  /** False until the daemon's socket accepts connections: nothing is launched before an app could connect. */
  private boolean accepting;

  @Override
  public List<Migration> migrations() {
    return TaskTables.migrations();
  }

  @Override
  public void start(DaemonContext context) {
    this.context = context;
    this.store = context.store();
    this.db = new TaskStore(store, activity);
    this.clock = context.clock();
    this.apps = new AppRegistry(db, connections, clock);
    this.queue = new TaskQueue(db, clock);
    AppLauncher custom = context.options().extra(AppLauncher.OPTION, AppLauncher.class);
    this.launcher = custom != null ? custom : new ProcessLauncher();
    context.provideBackgroundWork(this);
    load();
    IpcServer ipc = context.ipc();
    actor.register(ipc, TaskOp.APP_REGISTER, TaskRequests.Register::parse, this::register);
    actor.register(ipc, TaskOp.APP_BUDGET, TaskRequests.BudgetChange::parse, this::budget);
    actor.register(ipc, TaskOp.APP_UNREGISTER, TaskRequests.ForApp::parse, this::unregister);
    actor.register(ipc, TaskOp.APP_LIST, TaskRequests.Empty::parse, (c, r) -> done(listApps()));
    actor.register(ipc, TaskOp.APP_STOP, TaskRequests.Stop::parse, this::stop);
    actor.register(ipc, TaskOp.APP_FOREGROUND, TaskRequests.Foreground::parse, this::foreground);
    actor.register(ipc, TaskOp.TIMELINE, TaskRequests.Timeline::parse, (c, r) -> done(timeline(r)));
    actor.register(ipc, TaskOp.TASK_LISTEN, TaskRequests.Empty::parse, this::listen);
    actor.register(ipc, TaskOp.TASK_DELIVERED, TaskRequests.Delivered::parse, this::delivered);
    actor.register(ipc, TaskOp.TASK_COMPLETE, TaskRequests.Complete::parse, this::complete);
    actor.register(ipc, TaskOp.TASK_SCHEDULE_REFRESH, TaskRequests.ScheduleRefresh::parse, this::scheduleRefresh);
    actor.register(ipc, TaskOp.TASK_TRIGGER, TaskRequests.Trigger::parse, this::trigger);
    actor.register(ipc, TaskOp.TASK_EXPIRE, TaskRequests.ForApp::parse, this::expireNow);
    actor.register(ipc, TaskOp.TASK_WITHDRAW, TaskRequests.Withdraw::parse, (c, r) -> {
      withdraw(TaskRequests.target(c, r.app()), r.kind(), r.sessionIdentifier());
      return pendingWrites().thenApply(v -> Json.object());
    });
    actor.register(ipc, TaskOp.TASK_HOLD, TaskRequests.Hold::parse, (c, r) -> {
      holdWakes = r.hold();
      evaluate();
      return done(Json.object().put("hold", holdWakes));
    });
    ipc.register(TaskOp.TASK_SETTLE, (c, b) -> activity.settled());
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
    submit(() -> f.complete(apps.launchRefusal(appId)));
    if (actor.closed()) {
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
    queue.withdraw(appId, kind, session);
    evaluate();
  }

  @Override
  public boolean isRunning(String appId) {
    for (ClientConnection c : context.ipc().connections()) {
      if (appId.equals(c.appId()) && AppConnections.isAppConnection(c) && c.isOpen()) {
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
    if (AppConnections.isAppConnection(connection)) {
      submit(() -> connectionOpened(connection));
    }
  }

  @Override
  public void closed(ClientConnection connection) {
    if (AppConnections.isAppConnection(connection)) {
      submit(() -> connectionClosed(connection));
    }
  }

  private void connectionOpened(ClientConnection c) {
    AppConnections.Conn s = new AppConnections.Conn(c);
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
      if (apps.clearForceQuit(c.appId()) != null) {
        log.info("{} runs in the foreground again; background launches are allowed again", c.appId());
      }
    }
    connections.add(s);
    foregroundMayHaveChanged(c.appId());
    evaluate();
  }

  private void foregroundMayHaveChanged(String appId) {
    apps.foregroundMayHaveChanged(appId);
  }

  private void refuse(ClientConnection c, String wakeId) {
    String message;
    if (!apps.contains(c.appId())) {
      message = "a process connected as " + c.appId() + " claiming wake " + wakeId + ", but no app " + c.appId()
          + " is registered; register it with 'tether app register " + c.appId() + " --launch CMD'";
    } else {
      message = "a process connected as " + c.appId() + " claiming wake " + wakeId
          + ", which tetherd did not start for this app or which already ended";
    }
    log.warn(message);
    Instant now = clock.now();
    String id = newId();
    CompletableFuture<Void> recorded = db.insertRefusedWake(id, c.appId(), now, "connection claiming wake " + wakeId,
        c.peerPid(), message);
    ObjectNode body = Json.object();
    body.put("wakeId", wakeId);
    body.put("code", ErrorCode.UNKNOWN_APP.name());
    body.put("message", message);
    recorded.whenComplete((v, e) -> c.push(TaskPush.TASKS_REFUSED, body));
  }

  private void connectionClosed(ClientConnection c) {
    AppConnections.Conn s = connections.remove(c);
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

  private CompletableFuture<ObjectNode> register(ClientConnection c, TaskRequests.Register r) {
    String appId = TaskRequests.target(c, r.app());
    AppRegistry.Registered registered = apps.register(appId, r.launch(), r.settings());
    AppConfig saved = registered.app();
    CompletableFuture<Void> w = registered.saved();
    if (registered.newLaunchCommand()) {
      w = CompletableFuture.allOf(w, queue.retryNow(appId));
    }
    evaluate();
    return w.thenApply(v -> appJson(saved, clock.now()));
  }

  private CompletableFuture<ObjectNode> budget(ClientConnection c, TaskRequests.BudgetChange r) {
    AppConfig app = apps.require(TaskRequests.target(c, r.app()));
    CompletableFuture<Void> w = apps.changeBudget(app, r.settings());
    evaluate();
    return w.thenApply(v -> appJson(app, clock.now()));
  }

  private CompletableFuture<ObjectNode> unregister(ClientConnection c, TaskRequests.ForApp request) {
    AppConfig app = apps.require(TaskRequests.target(c, request.app()));
    CompletableFuture<Void> w = apps.unregister(app);
    evaluate();
    ObjectNode r = Json.object();
    r.put("app", app.appId);
    r.put("unregistered", true);
    return w.thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> stop(ClientConnection c, TaskRequests.Stop request) {
    String appId = TaskRequests.target(c, request.app());
    boolean force = request.force();
    AppConfig app = apps.get(appId);
    if (app == null && !isRunning(appId)) {
      throw AppRegistry.unknownApp(appId);
    }
    String why = force ? "force-quit by the user" : "stopped by the user";
    CompletableFuture<Void> saved = CompletableFuture.completedFuture(null);
    if (force && app != null) {
      saved = apps.forceQuit(app);
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
    for (AppConnections.Conn s : connections.all()) {
      if (!appId.equals(s.connection.appId()) || (s.wake != null && s.wake.launched)) {
        continue;
      }
      ObjectNode exit = Json.object();
      exit.put("reason", force ? "forceQuit" : "stop");
      s.connection.push(TaskPush.APP_EXIT, exit);
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

  private CompletableFuture<ObjectNode> foreground(ClientConnection c, TaskRequests.Foreground request) {
    AppConnections.Conn s = connections.get(c);
    if (s == null) {
      throw new TetherException(ErrorCode.INVALID_STATE, "only an app's own connection can declare foreground or background");
    }
    s.foreground = request.foreground();
    foregroundMayHaveChanged(c.appId());
    CompletableFuture<Void> w = s.foreground ? apps.clearForceQuit(c.appId()) : null;
    if (w == null) {
      w = CompletableFuture.completedFuture(null);
    }
    evaluate();
    ObjectNode r = Json.object();
    r.put("foreground", s.foreground);
    return w.thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> listen(ClientConnection c, TaskRequests.Empty request) {
    AppConnections.Conn s = connections.get(c);
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

  private CompletableFuture<ObjectNode> delivered(ClientConnection c, TaskRequests.Delivered request) {
    Wake w = openWakes.get(request.wakeId());
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

  private CompletableFuture<ObjectNode> complete(ClientConnection c, TaskRequests.Complete request) {
    String id = request.id();
    PendingTask t = queue.get(id);
    if (t == null || !t.appId.equals(c.appId()) || t.state == PendingTask.State.PENDING) {
      throw new TetherException(ErrorCode.UNKNOWN_TASK, "no background task " + id + " is running for " + c.appId()
          + " (it may have expired)");
    }
    if (t.done()) {
      throw new TetherException(ErrorCode.TASK_ALREADY_COMPLETED, "background task " + id + " was already completed");
    }
    t.state = request.failed() ? PendingTask.State.FAILED : PendingTask.State.COMPLETED;
    t.failure = request.error();
    CompletableFuture<Void> w = queue.save(t);
    Wake wake = openWakes.get(t.wakeId);
    if (wake != null) {
      checkDone(wake);
    }
    ObjectNode r = Json.object();
    r.put("id", id);
    r.put("state", t.state.name().toLowerCase());
    return w.thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> scheduleRefresh(ClientConnection c, TaskRequests.ScheduleRefresh request) {
    String appId = TaskRequests.target(c, request.app());
    Instant preferred = request.preferredDate() != null ? request.preferredDate() : clock.now();
    PendingTask t = enqueue(appId, TaskKind.APP_REFRESH, null, request.userInfo(), preferred, "scheduled by the app", false);
    ObjectNode r = Json.object();
    r.put("id", t.id);
    r.put("app", appId);
    r.put("preferredDate", t.dueAt.toEpochMilli());
    r.put("coalesced", t.coalesced);
    return pendingWrites().thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> trigger(ClientConnection c, TaskRequests.Trigger request) {
    String appId = TaskRequests.target(c, request.app());
    PendingTask t = enqueue(appId, request.kind(), request.sessionIdentifier(), request.userInfo(), clock.now(),
        request.reason(), request.bypassBudget());
    ObjectNode r = Json.object();
    r.put("id", t.id);
    return pendingWrites().thenApply(v -> r);
  }

  private CompletableFuture<ObjectNode> expireNow(ClientConnection c, TaskRequests.ForApp request) {
    String appId = TaskRequests.target(c, request.app());
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
    PendingTask task = queue.enqueue(appId, kind, session, userInfo, due, reason, bypass);
    evaluate();
    return task;
  }

  private void evaluate() {
    if (actor.closed() || !accepting) {
      return;
    }
    Instant now = clock.now();
    admission.prune(now);
    Instant next = null;
    Map<String, List<PendingTask>> byApp = queue.waitingByApp();
    for (Map.Entry<String, List<PendingTask>> e : byApp.entrySet()) {
      List<PendingTask> ready = new ArrayList<>();
      WakeAdmission.AppState state = appState(e.getKey());
      for (PendingTask t : e.getValue()) {
        Waiting w = admission.waiting(t, state, now);
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

  /** What admission needs to know about {@code appId} now. */
  private WakeAdmission.AppState appState(String appId) {
    return new WakeAdmission.AppState(apps.get(appId), inForeground(appId), joinableWake(appId) != null,
        listeningConnection(appId) != null, hasOpenWake(appId), hasAppConnection(appId), holdWakes);
  }

  private void dispatch(String appId, List<PendingTask> ready, Instant now) {
    Wake w = joinableWake(appId);
    if (w != null) {
      for (PendingTask t : ready) {
        t.wakeId = w.id;
        w.tasks.add(t);
        queue.save(t);
        if (t.kind.budgeted()) {
          w.stat.budgeted = true;
        }
        if (t.kind == TaskKind.URL_SESSION) {
          w.stat.urlSession = true;
        }
      }
      saveWakeTasks(w);
      AppConnections.Conn s = w.connection == null ? null : connections.get(w.connection);
      if (s != null && s.listening) {
        deliver(w, ready);
      }
      return;
    }
    ClientConnection c = listeningConnection(appId);
    if (c != null) {
      w = newWake(appId, false, ready, now);
      w.connection = c;
      connections.get(c).wake = w;
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
    WakeStat stat = admission.record(appId, now, budgeted, url);
    Wake w = new Wake(newId(), appId, now, launched, stat);
    w.tasks.addAll(ready);
    openWakes.put(w.id, w);
    updateBusy(w);
    for (PendingTask t : ready) {
      t.wakeId = w.id;
      queue.save(t);
    }
    String reason = w.reason();
    String taskJson = Json.write(tasksJson(w, false));
    db.insertWake(w.id, appId, now, launched, reason, taskJson, budgeted, url);
    log.info("wake {} for {} ({}): {}", w.id, appId, launched ? "launching" : "running app", w.reason());
    return w;
  }

  private void startAllowance(Wake w) {
    AppConfig cfg = apps.orDefaults(w.appId);
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
    db.setWakePid(w.id, w.process.pid());
    w.process.onExit().whenComplete((code, failure) -> submit(() -> processExited(w, code == null ? -1 : code)));
  }

  private void deliver(Wake w, List<PendingTask> list) {
    ArrayNode arr = Json.array();
    for (PendingTask t : list) {
      t.state = PendingTask.State.DELIVERED;
      queue.save(t);
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
    w.connection.push(TaskPush.TASKS, body);
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
      w.connection.push(TaskPush.APP_EXIT, exit);
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
    w.connection.push(TaskPush.TASKS_EXPIRING, body);
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
      w.connection.push(TaskPush.TASKS_EXPIRED, body);
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
      AppConfig cfg = apps.orDefaults(w.appId);
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
    AppConfig cfg = apps.orDefaults(w.appId);
    long overrun = outcome == WakeOutcome.EXPIRED && w.expireAt != null ? Math.max(0, now.toEpochMilli() - w.expireAt.toEpochMilli()) : 0;
    long charged = WakeAdmission.chargedMs(w.launched, duration, outcome == WakeOutcome.EXPIRED, cfg.allowance);
    w.stat.chargedMs = charged;
    ArrayNode taskJson = Json.array();
    for (PendingTask t : w.tasks) {
      ObjectNode j = taskEntry(t);
      if (t.done()) {
        j.put("state", t.state == PendingTask.State.COMPLETED ? "completed" : "failed");
        if (t.failure != null) {
          j.put("error", t.failure);
        }
        queue.remove(t);
      } else if (t.state == PendingTask.State.DELIVERED && t.kind == TaskKind.APP_REFRESH) {
        j.put("state", outcome.name().toLowerCase(java.util.Locale.ROOT));
        queue.remove(t);
      } else {
        j.put("state", "requeued");
        queue.requeue(t, now);
      }
      taskJson.add(j);
    }
    if (w.connection != null) {
      AppConnections.Conn s = connections.get(w.connection);
      if (s != null && s.wake == w) {
        s.wake = null;
      }
    }
    String reason = w.reason();
    log.info("wake {} of {} ended: {} after {} ms{}", w.id, w.appId, outcome, duration, error == null ? "" : " (" + error + ")");
    db.endWake(w.id, new TaskStore.WakeEnd(now.toEpochMilli(), outcome, duration, overrun, charged, error,
        Json.write(taskJson), reason, w.stat.budgeted, w.stat.urlSession));
    evaluate();
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
    return connections.listening(appId);
  }

  private boolean hasAppConnection(String appId) {
    return connections.connected(appId);
  }

  private boolean inForeground(String appId) {
    return connections.inForeground(appId);
  }

  private ObjectNode listApps() {
    Instant now = clock.now();
    ArrayNode arr = Json.array();
    for (AppConfig app : apps.all()) {
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
    o.put("pendingTasks", queue.unfinished(app.appId));
    Budget b = admission.budget(app, now);
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

  private ObjectNode timeline(TaskRequests.Timeline request) {
    String app = request.app();
    if (app != null && !apps.contains(app)) {
      boolean known = queue.anyOf(app) || db.hasWakes(app);
      if (!known) {
        throw AppRegistry.unknownApp(app);
      }
    }
    int limit = request.limit();
    Instant now = clock.now();
    ArrayNode wakes = Json.array();
    for (TaskStore.WakeRow row : db.timeline(app, limit)) {
      ObjectNode o = wakes.addObject();
      o.put("id", row.id());
      o.put("app", row.appId());
      o.put("startedAt", Instant.ofEpochMilli(row.startedAt()).toString());
      o.put("endedAt", row.endedAt() == null ? null : Instant.ofEpochMilli(row.endedAt()).toString());
      o.put("launched", row.launched());
      o.put("reason", row.reason());
      o.set("tasks", Json.parse(row.tasks()));
      o.put("outcome", row.outcome());
      if (row.pid() != null) {
        o.put("pid", row.pid());
      }
      if (row.durationMs() != null) {
        o.put("durationMs", row.durationMs());
      }
      o.put("overrunMs", row.overrunMs());
      o.put("chargedMs", row.chargedMs());
      o.put("error", row.error());
    }
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
    for (PendingTask t : queue.all()) {
      if ((app != null && !t.appId.equals(app)) || t.state != PendingTask.State.PENDING || t.wakeId != null) {
        continue;
      }
      ObjectNode o = taskEntry(t);
      o.put("app", t.appId);
      o.put("dueAt", t.dueAt.toString());
      o.put("createdAt", t.createdAt.toString());
      Waiting w = admission.waiting(t, appState(t.appId), now);
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
    apps.load();
    queue.load();
    // Wakes left open by a daemon that stopped or was killed: end their processes and give their tasks back.
    for (TaskStore.OpenWakeRow row : db.openWakes()) {
      String id = row.id();
      long started = row.startedAt();
      Long pid = row.pid();
      if (pid != null && row.launched()) {
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
      queue.giveBack(id);
      db.endLeftOpenWake(id, now, duration);
    }
    // No app is connected after a start.
    db.clearForeground();
    // No wake is open after a start: completed tasks whose wake was not recorded as ended are done; the others wait again.
    queue.reopenAfterStart();
    admission.load(db.recentWakes(now.minus(Budget.DAY)));
    log.info("task service: {} app(s) registered, {} task(s) pending", apps.size(), queue.size());
  }

  private void saveWakeTasks(Wake w) {
    db.saveWakeTasks(w.id, Json.write(tasksJson(w, false)), w.reason());
  }

  /** Completes once every write queued so far has committed (writes commit in order). */
  private CompletableFuture<Void> pendingWrites() {
    return db.pendingWrites();
  }

  // ---------------------------------------------------------------- the task thread and idleness

  private static CompletableFuture<ObjectNode> done(ObjectNode body) {
    return CompletableFuture.completedFuture(body);
  }

  private void submit(Runnable work) {
    actor.submit(work);
  }

  private void setPhase(Wake w, Wake.Phase phase) {
    w.phase = phase;
    updateBusy(w);
  }

  private void updateBusy(Wake w) {
    boolean b = w.phase.transitional() || (w.awaitingAck > 0 && w.phase != Wake.Phase.ENDED);
    if (b && !w.busy) {
      w.busy = true;
      activity.begin();
    } else if (!b && w.busy) {
      w.busy = false;
      activity.end();
    }
  }

  private static String newId() {
    return UUID.randomUUID().toString();
  }

  @Override
  public void close() {
    actor.close(() -> {
      if (checkTimer != null) {
        checkTimer.cancel();
      }
      for (Wake w : openWakes.values()) {
        w.cancelTimers();
        if (w.process != null) {
          w.process.kill();
        }
      }
    });
  }
}
