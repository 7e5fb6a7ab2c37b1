package dev.tether.daemon.internal.task;

import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.task.launch.LaunchedApp;
import dev.tether.daemon.internal.time.TetherClock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Confined to the task thread ({@code tether-tasks}), run by {@link WakeRunner}: a wake in progress, the tasks handed
 * to one app process, its allowance timers and, when tetherd launched the app, the process. The phases and their
 * transitions: LAUNCHING -> DELIVERING <-> RUNNING -> EXITING -> ENDED, and any phase -> ENDING -> ENDED when the app
 * is ended.
 */
final class Wake {
  enum Phase {
    /** Launched, not connected or not listening yet. */
    LAUNCHING,
    /** Tasks pushed, the app has not confirmed it received them. */
    DELIVERING,
    /** The app holds the tasks and works on them. */
    RUNNING,
    /** Every task is complete; the app was asked to exit. */
    EXITING,
    /** The app is being ended (allowance over, force quit); waiting for the process to go. */
    ENDING,
    ENDED;

    /** Phases in which the daemon is still doing something on its own (the test kit waits them out). */
    boolean transitional() {
      return this == LAUNCHING || this == DELIVERING || this == EXITING || this == ENDING;
    }
  }

  final String id;
  final String appId;
  final Instant started;
  final boolean launched;
  final List<PendingTask> tasks = new ArrayList<>();
  final WakeStat stat;
  Phase phase;
  boolean busy;
  LaunchedApp process;
  ClientConnection connection;
  int awaitingAck;
  Instant expireAt;
  Instant endAt;
  TetherClock.Timer expireTimer;
  TetherClock.Timer endTimer;
  TetherClock.Timer exitTimer;
  boolean expirationSent;
  boolean expiredByAllowance;
  WakeOutcome forcedOutcome;
  String forcedReason;
  boolean expireRequested;
  boolean connectedOnce;

  Wake(String id, String appId, Instant started, boolean launched, WakeStat stat) {
    this.id = id;
    this.appId = appId;
    this.started = started;
    this.launched = launched;
    this.stat = stat;
    this.phase = launched ? Phase.LAUNCHING : Phase.DELIVERING;
  }

  boolean allDone() {
    for (PendingTask t : tasks) {
      if (!t.done()) {
        return false;
      }
    }
    return true;
  }

  boolean joinable() {
    return phase == Phase.LAUNCHING || phase == Phase.DELIVERING || phase == Phase.RUNNING;
  }

  void cancelTimers() {
    for (TetherClock.Timer t : new TetherClock.Timer[] {expireTimer, endTimer, exitTimer}) {
      if (t != null) {
        t.cancel();
      }
    }
    expireTimer = null;
    endTimer = null;
    exitTimer = null;
  }

  /** What the wake reported in the timeline as its reason: the tasks it carries. */
  String reason() {
    StringBuilder b = new StringBuilder();
    for (PendingTask t : tasks) {
      if (b.length() > 0) {
        b.append("; ");
      }
      b.append(t.describe());
      if (t.reason != null && !t.reason.isBlank()) {
        b.append(": ").append(t.reason);
      }
    }
    return b.toString();
  }
}
