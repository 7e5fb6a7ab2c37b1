package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TaskPush;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the task thread ({@code tether-tasks}), where {@link TaskActor#register} hands it the requests (parsed into
 * {@link TaskRequests} records at the IPC edge): answers them by driving the service's parts, after the writes they
 * made committed.
 */
final class TaskHandlers {
  private static final Logger log = LoggerFactory.getLogger(TaskHandlers.class);

  private final TaskStore db;
  private final AppRegistry apps;
  private final TaskQueue queue;
  private final AppConnections connections;
  private final WakeRunner wakes;
  private final TaskScheduler scheduler;
  private final TimelineView view;
  private final TetherClock clock;
  /** Whether a process of an app is connected (from the IPC server's connections, any thread). */
  private final Predicate<String> running;
  /** Tells the other capabilities that the user force-quit an app. */
  private final Consumer<String> forceQuitListeners;

  TaskHandlers(TaskStore db, AppRegistry apps, TaskQueue queue, AppConnections connections, WakeRunner wakes,
      TaskScheduler scheduler, TimelineView view, TetherClock clock, Predicate<String> running,
      Consumer<String> forceQuitListeners) {
    this.db = db;
    this.apps = apps;
    this.queue = queue;
    this.connections = connections;
    this.wakes = wakes;
    this.scheduler = scheduler;
    this.view = view;
    this.clock = clock;
    this.running = running;
    this.forceQuitListeners = forceQuitListeners;
  }

  /** Adds a task (or coalesces it with an open one of the same app, kind and session) and evaluates. */
  PendingTask enqueue(String appId, TaskKind kind, String session, String userInfo, Instant due, String reason,
      boolean bypass) {
    PendingTask task = queue.enqueue(appId, kind, session, userInfo, due, reason, bypass);
    scheduler.evaluate();
    return task;
  }

  /** Drops a task not yet handed to the app whose work the app already did by itself, and evaluates. */
  void withdraw(String appId, TaskKind kind, String session) {
    queue.withdraw(appId, kind, session);
    scheduler.evaluate();
  }

  // ---------------------------------------------------------------- apps

  CompletableFuture<ObjectNode> register(ClientConnection c, TaskRequests.Register r) {
    String appId = TaskRequests.target(c, r.app());
    AppRegistry.Registered registered = apps.register(appId, r.launch(), r.settings());
    CompletableFuture<Void> w = registered.saved();
    if (registered.newLaunchCommand()) {
      w = CompletableFuture.allOf(w, queue.retryNow(appId));
    }
    scheduler.evaluate();
    return w.thenApply(v -> view.app(registered.app(), clock.now()));
  }

  CompletableFuture<ObjectNode> budget(ClientConnection c, TaskRequests.BudgetChange r) {
    AppConfig app = apps.require(TaskRequests.target(c, r.app()));
    CompletableFuture<Void> w = apps.changeBudget(app, r.settings());
    scheduler.evaluate();
    return w.thenApply(v -> view.app(app, clock.now()));
  }

  CompletableFuture<ObjectNode> unregister(ClientConnection c, TaskRequests.ForApp request) {
    AppConfig app = apps.require(TaskRequests.target(c, request.app()));
    CompletableFuture<Void> w = apps.unregister(app);
    scheduler.evaluate();
    ObjectNode r = Json.object();
    r.put("app", app.appId);
    r.put("unregistered", true);
    return w.thenApply(v -> r);
  }

  CompletableFuture<ObjectNode> list(ClientConnection c, TaskRequests.Empty request) {
    return done(view.apps());
  }

  CompletableFuture<ObjectNode> stop(ClientConnection c, TaskRequests.Stop request) {
    String appId = TaskRequests.target(c, request.app());
    boolean force = request.force();
    AppConfig app = apps.get(appId);
    if (app == null && !running.test(appId)) {
      throw AppRegistry.unknownApp(appId);
    }
    String why = force ? "force-quit by the user" : "stopped by the user";
    CompletableFuture<Void> saved = CompletableFuture.completedFuture(null);
    if (force && app != null) {
      saved = apps.forceQuit(app);
    }
    int ended = wakes.stop(appId, force, why);
    int closedConnections = 0;
    for (AppConnections.Conn s : connections.all()) {
      if (!appId.equals(s.appId()) || (s.wake != null && s.wake.launched)) {
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
      forceQuitListeners.accept(appId);
    }
    scheduler.evaluate();
    ObjectNode r = Json.object();
    r.put("app", appId);
    r.put("forceQuit", force);
    r.put("endedWakes", ended);
    r.put("closedConnections", closedConnections);
    return saved.thenApply(v -> r);
  }

  CompletableFuture<ObjectNode> foreground(ClientConnection c, TaskRequests.Foreground request) {
    AppConnections.Conn s = connections.get(c);
    if (s == null) {
      throw new TetherException(ErrorCode.INVALID_STATE, "only an app's own connection can declare foreground or background");
    }
    s.foreground = request.foreground();
    apps.foregroundMayHaveChanged(c.appId());
    CompletableFuture<Void> w = s.foreground ? apps.clearForceQuit(c.appId()) : null;
    if (w == null) {
      w = CompletableFuture.completedFuture(null);
    }
    scheduler.evaluate();
    ObjectNode r = Json.object();
    r.put("foreground", s.foreground);
    return w.thenApply(v -> r);
  }

  CompletableFuture<ObjectNode> timeline(ClientConnection c, TaskRequests.Timeline request) {
    return done(view.timeline(request));
  }

  // ---------------------------------------------------------------- tasks

  CompletableFuture<ObjectNode> listen(ClientConnection c, TaskRequests.Empty request) {
    AppConnections.Conn s = connections.get(c);
    if (s == null) {
      throw new TetherException(ErrorCode.INVALID_STATE, "only an app's connection can receive background tasks");
    }
    s.listening = true;
    wakes.listening(s);
    scheduler.evaluate();
    return done(Json.object().put("listening", true));
  }

  CompletableFuture<ObjectNode> delivered(ClientConnection c, TaskRequests.Delivered request) {
    wakes.delivered(request.wakeId());
    return done(Json.object());
  }

  CompletableFuture<ObjectNode> complete(ClientConnection c, TaskRequests.Complete request) {
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
    wakes.taskCompleted(t);
    ObjectNode r = Json.object();
    r.put("id", id);
    r.put("state", t.state.name().toLowerCase());
    return w.thenApply(v -> r);
  }

  CompletableFuture<ObjectNode> scheduleRefresh(ClientConnection c, TaskRequests.ScheduleRefresh request) {
    String appId = TaskRequests.target(c, request.app());
    Instant preferred = request.preferredDate() != null ? request.preferredDate() : clock.now();
    PendingTask t = enqueue(appId, TaskKind.APP_REFRESH, null, request.userInfo(), preferred, "scheduled by the app", false);
    ObjectNode r = Json.object();
    r.put("id", t.id);
    r.put("app", appId);
    r.put("preferredDate", t.dueAt.toEpochMilli());
    r.put("coalesced", t.coalesced);
    return db.pendingWrites().thenApply(v -> r);
  }

  CompletableFuture<ObjectNode> trigger(ClientConnection c, TaskRequests.Trigger request) {
    String appId = TaskRequests.target(c, request.app());
    PendingTask t = enqueue(appId, request.kind(), request.sessionIdentifier(), request.userInfo(), clock.now(),
        request.reason(), request.bypassBudget());
    ObjectNode r = Json.object();
    r.put("id", t.id);
    return db.pendingWrites().thenApply(v -> r);
  }

  CompletableFuture<ObjectNode> expire(ClientConnection c, TaskRequests.ForApp request) {
    Wake w = wakes.expireNow(TaskRequests.target(c, request.app()));
    return done(Json.object().put("wakeId", w.id));
  }

  CompletableFuture<ObjectNode> withdraw(ClientConnection c, TaskRequests.Withdraw request) {
    withdraw(TaskRequests.target(c, request.app()), request.kind(), request.sessionIdentifier());
    return db.pendingWrites().thenApply(v -> Json.object());
  }

  CompletableFuture<ObjectNode> hold(ClientConnection c, TaskRequests.Hold request) {
    return done(Json.object().put("hold", scheduler.hold(request.hold())));
  }

  private static CompletableFuture<ObjectNode> done(ObjectNode body) {
    return CompletableFuture.completedFuture(body);
  }
}
