package dev.tether.daemon.internal.task;

import dev.tether.daemon.internal.BackgroundWork;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.task.launch.AppLauncher;
import dev.tether.daemon.internal.task.launch.ProcessLauncher;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.wire.TaskOp;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Called on any thread (IPC readers, connection events, the other capabilities) and hands all work to the task thread
 * ({@code tether-tasks}, {@link TaskActor}): background tasks, that is registered apps, pending tasks, wakes and
 * budgets, and the {@link BackgroundWork} hook the other capabilities use to ask for wakes. This class only wires the
 * parts that own the state on that thread: {@link AppRegistry} (apps), {@link TaskQueue} (tasks), {@link WakeRunner}
 * (wakes), {@link AppConnections}, {@link WakeAdmission} (budgets) and {@link TaskScheduler}. State is written
 * through {@link TaskStore} in order and replies wait for the commit. Timers come from the daemon's clock only: with
 * nothing due, the service sleeps.
 */
public final class TaskService implements DaemonService, BackgroundWork, ConnectionListener {
  private static final Logger log = LoggerFactory.getLogger(TaskService.class);

  private final Activity activity = new Activity();
  private final TaskActor actor = new TaskActor(activity);
  private final CopyOnWriteArrayList<Consumer<String>> forceQuitListeners = new CopyOnWriteArrayList<>();
  private IpcServer ipc;
  private TetherClock clock;
  private TaskHandlers handlers;
  private ConnectionEvents connectionEvents;
  private TaskScheduler scheduler;
  private WakeRunner wakes;
  private AppRegistry apps;

  @Override
  public List<Migration> migrations() {
    return TaskTables.migrations();
  }

  @Override
  public void start(DaemonContext context) {
    ipc = context.ipc();
    clock = context.clock();
    AppLauncher custom = context.options().extra(AppLauncher.OPTION, AppLauncher.class);
    AppLauncher launcher = custom != null ? custom : new ProcessLauncher();
    TaskStore db = new TaskStore(context.store(), activity, actor.executor());
    AppConnections connections = new AppConnections();
    WakeAdmission admission = new WakeAdmission();
    apps = new AppRegistry(db, connections, clock);
    TaskQueue queue = new TaskQueue(db, clock);
    scheduler = new TaskScheduler(queue, apps, connections, admission, clock, actor);
    wakes = new WakeRunner(db, apps, queue, connections, admission, clock, launcher, context.home(), actor, activity,
        scheduler::evaluate);
    scheduler.use(wakes);
    TimelineView view = new TimelineView(db, apps, queue, wakes, connections, admission, scheduler, clock);
    handlers = new TaskHandlers(db, apps, queue, connections, wakes, scheduler, view, clock, this::isRunning,
        this::forceQuit);
    connectionEvents = new ConnectionEvents(db, apps, connections, wakes, scheduler, clock);
    context.provideBackgroundWork(this);
    StartRecovery.run(db, apps, queue, admission, clock);

    actor.register(ipc, TaskOp.APP_REGISTER, TaskRequests.Register::parse, handlers::register);
    actor.register(ipc, TaskOp.APP_BUDGET, TaskRequests.BudgetChange::parse, handlers::budget);
    actor.register(ipc, TaskOp.APP_UNREGISTER, TaskRequests.ForApp::parse, handlers::unregister);
    actor.register(ipc, TaskOp.APP_LIST, TaskRequests.Empty::parse, handlers::list);
    actor.register(ipc, TaskOp.APP_STOP, TaskRequests.Stop::parse, handlers::stop);
    actor.register(ipc, TaskOp.APP_FOREGROUND, TaskRequests.Foreground::parse, handlers::foreground);
    actor.register(ipc, TaskOp.TIMELINE, TaskRequests.Timeline::parse, handlers::timeline);
    actor.register(ipc, TaskOp.TASK_LISTEN, TaskRequests.Empty::parse, handlers::listen);
    actor.register(ipc, TaskOp.TASK_DELIVERED, TaskRequests.Delivered::parse, handlers::delivered);
    actor.register(ipc, TaskOp.TASK_COMPLETE, TaskRequests.Complete::parse, handlers::complete);
    actor.register(ipc, TaskOp.TASK_SCHEDULE_REFRESH, TaskRequests.ScheduleRefresh::parse, handlers::scheduleRefresh);
    actor.register(ipc, TaskOp.TASK_TRIGGER, TaskRequests.Trigger::parse, handlers::trigger);
    actor.register(ipc, TaskOp.TASK_EXPIRE, TaskRequests.ForApp::parse, handlers::expire);
    actor.register(ipc, TaskOp.TASK_WITHDRAW, TaskRequests.Withdraw::parse, handlers::withdraw);
    actor.register(ipc, TaskOp.TASK_HOLD, TaskRequests.Hold::parse, handlers::hold);
    // answered from any thread: waiting for idleness must not queue behind the work it waits for
    ipc.register(TaskOp.TASK_SETTLE, TaskRequests.Empty::parse, (c, r) -> activity.settled());
    ipc.addListener(this);
  }

  @Override
  public void started() {
    actor.submit(scheduler::accepting);
  }

  // ---------------------------------------------------------------- BackgroundWork (any thread)

  @Override
  public void urlSessionNeedsApp(String appId, String sessionIdentifier, String reason) {
    actor.submit(() -> handlers.enqueue(appId, TaskKind.URL_SESSION, sessionIdentifier, null, now(), reason, false));
  }

  @Override
  public void connectivityNeedsApp(String appId, String reason) {
    actor.submit(() -> handlers.enqueue(appId, TaskKind.CONNECTIVITY, null, null, now(), reason, false));
  }

  @Override
  public CompletableFuture<Optional<String>> launchRefusal(String appId) {
    CompletableFuture<Optional<String>> f = new CompletableFuture<>();
    actor.submit(() -> f.complete(apps.launchRefusal(appId)));
    if (actor.closed()) {
      f.complete(Optional.empty());
    }
    return f;
  }

  @Override
  public void urlSessionOpened(String appId, String sessionIdentifier) {
    actor.submit(() -> handlers.withdraw(appId, TaskKind.URL_SESSION, sessionIdentifier));
  }

  @Override
  public void connectivityDrained(String appId) {
    actor.submit(() -> handlers.withdraw(appId, TaskKind.CONNECTIVITY, null));
  }

  @Override
  public boolean isRunning(String appId) {
    for (ClientConnection c : ipc.connections()) {
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

  private void forceQuit(String appId) {
    for (Consumer<String> l : forceQuitListeners) {
      try {
        l.accept(appId);
      } catch (RuntimeException e) {
        log.error("force-quit listener failed for {}", appId, e);
      }
    }
  }

  private Instant now() {
    return clock.now();
  }

  // ---------------------------------------------------------------- connections (IPC reader threads)

  @Override
  public void opened(ClientConnection connection) {
    if (AppConnections.isAppConnection(connection)) {
      actor.submit(() -> connectionEvents.opened(connection));
    }
  }

  @Override
  public void closed(ClientConnection connection) {
    if (AppConnections.isAppConnection(connection)) {
      actor.submit(() -> connectionEvents.closed(connection));
    }
  }

  @Override
  public void close() {
    actor.close(() -> {
      if (scheduler != null) {
        scheduler.close();
        wakes.closeAll();
      }
    });
  }
}
