package dev.tether.daemon.internal.task;

import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.time.TetherClock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Confined to the task thread ({@code tether-tasks}); its one clock timer hands the next evaluation back there with
 * {@link TaskActor#submit}. After every change it decides which waiting tasks go now (through {@link WakeAdmission})
 * and to which wake: the app's open wake, a wake of its listening process, or a launch; and it sleeps until the
 * earliest time a waiting task may go (no timer when nothing is due).
 */
final class TaskScheduler {
  private final TaskQueue queue;
  private final AppRegistry apps;
  private final AppConnections connections;
  private final WakeAdmission admission;
  private final TetherClock clock;
  private final TaskActor actor;
  private WakeRunner wakes;
  private TetherClock.Timer checkTimer;
  private Instant checkAt;
  private boolean holdWakes;
  /** False until the daemon's socket accepts connections: nothing is launched before an app could connect. */
  private boolean accepting;

  TaskScheduler(TaskQueue queue, AppRegistry apps, AppConnections connections, WakeAdmission admission,
      TetherClock clock, TaskActor actor) {
    this.queue = queue;
    this.apps = apps;
    this.connections = connections;
    this.admission = admission;
    this.clock = clock;
    this.actor = actor;
  }

  /** The wake runner the scheduler starts wakes with (it calls back {@link #evaluate} when a wake ended). */
  void use(WakeRunner wakes) {
    this.wakes = wakes;
  }

  /** The daemon's socket accepts connections: wakes may start. */
  void accepting() {
    accepting = true;
    evaluate();
  }

  /** Holds budgeted wakes (the test kit's conditions) or lets them go; returns the setting. */
  boolean hold(boolean hold) {
    holdWakes = hold;
    evaluate();
    return holdWakes;
  }

  /** What admission needs to know about {@code appId} now. */
  WakeAdmission.AppState appState(String appId) {
    return new WakeAdmission.AppState(apps.get(appId), connections.inForeground(appId), wakes.joinable(appId) != null,
        connections.listening(appId) != null, wakes.hasOpen(appId), connections.connected(appId), holdWakes);
  }

  /** Why {@code t} waits now, or null when it may go. */
  Waiting waiting(PendingTask t, Instant now) {
    return admission.waiting(t, appState(t.appId), now);
  }

  /** Starts or joins wakes for every task that may go now, and sleeps until the earliest one that may go later. */
  void evaluate() {
    if (actor.closed() || !accepting) {
      return;
    }
    Instant now = clock.now();
    admission.prune(now);
    Instant next = null;
    for (Map.Entry<String, List<PendingTask>> e : queue.waitingByApp().entrySet()) {
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

  private void dispatch(String appId, List<PendingTask> ready, Instant now) {
    Wake w = wakes.joinable(appId);
    if (w != null) {
      wakes.join(w, ready);
      return;
    }
    ClientConnection c = connections.listening(appId);
    if (c != null) {
      wakes.startRunning(appId, c, ready, now);
      return;
    }
    AppConfig app = apps.get(appId);
    if (app == null) {
      return;
    }
    wakes.launch(app, ready, now);
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
    checkTimer = clock.schedule(at, () -> actor.submit(() -> {
      if (at.equals(checkAt)) {
        checkTimer = null;
        checkAt = null;
      }
      evaluate();
    }));
  }

  /** The daemon stops: no more timer. */
  void close() {
    if (checkTimer != null) {
      checkTimer.cancel();
    }
  }
}
