package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.task.launch.AppLauncher;
import dev.tether.daemon.internal.task.launch.LaunchRequest;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Confined to the task thread ({@code tether-tasks}): requests, connection events, timers and process exits are
 * handed to it there ({@link TaskActor#submit}). It runs wakes through their phases ({@link Wake.Phase}: launching,
 * delivering, running, exiting, ending, ended): starts them (launching the app or handing the tasks to a running one),
 * delivers tasks, runs the allowance's expiration and end timers and the exit grace, and records how each ended.
 */
final class WakeRunner {
  private static final Logger log = LoggerFactory.getLogger(WakeRunner.class);
  /** How long a launched app has to exit by itself after being asked to, before SIGTERM. */
  static final Duration EXIT_GRACE = Duration.ofSeconds(3);
  /** How long after SIGTERM before SIGKILL. */
  static final Duration KILL_GRACE = Duration.ofSeconds(2);

  private final Map<String, Wake> openWakes = new LinkedHashMap<>();
  private final TaskStore db;
  private final AppRegistry apps;
  private final TaskQueue queue;
  private final AppConnections connections;
  private final WakeAdmission admission;
  private final TetherClock clock;
  private final AppLauncher launcher;
  private final Path home;
  private final TaskActor actor;
  private final Activity activity;
  /** Runs after a wake ended: its tasks and the app's budget changed. */
  private final Runnable afterEnd;

  WakeRunner(TaskStore db, AppRegistry apps, TaskQueue queue, AppConnections connections, WakeAdmission admission,
      TetherClock clock, AppLauncher launcher, Path home, TaskActor actor, Activity activity, Runnable afterEnd) {
    this.db = db;
    this.apps = apps;
    this.queue = queue;
    this.connections = connections;
    this.admission = admission;
    this.clock = clock;
    this.launcher = launcher;
    this.home = home;
    this.actor = actor;
    this.activity = activity;
    this.afterEnd = afterEnd;
  }

  // ---------------------------------------------------------------- queries

  Wake get(String wakeId) {
    return wakeId == null ? null : openWakes.get(wakeId);
  }

  Collection<Wake> open() {
    return openWakes.values();
  }

  /** The app's open wake that takes more tasks (launching, delivering or running), or null. */
  Wake joinable(String appId) {
    for (Wake w : openWakes.values()) {
      if (w.appId.equals(appId) && w.joinable()) {
        return w;
      }
    }
    return null;
  }

  boolean hasOpen(String appId) {
    for (Wake w : openWakes.values()) {
      if (w.appId.equals(appId)) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- starting wakes

  /** Hands {@code ready} to the app's open wake {@code w}: delivered at once when its process listens. */
  void join(Wake w, List<PendingTask> ready) {
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
  }

  /** A wake of a running app: {@code c} listens for tasks and gets {@code ready} now. */
  void startRunning(String appId, ClientConnection c, List<PendingTask> ready, Instant now) {
    Wake w = newWake(appId, false, ready, now);
    w.connection = c;
    connections.get(c).wake = w;
    startAllowance(w);
    deliver(w, ready);
  }

  /** A wake that launches {@code app} to hand it {@code ready}. */
  void launch(AppConfig app, List<PendingTask> ready, Instant now) {
    Wake w = newWake(app.appId, true, ready, now);
    startAllowance(w);
    Map<String, String> env = new HashMap<>();
    env.put(Protocol.ENV_LAUNCHED_IN_BACKGROUND, "1");
    env.put(Protocol.ENV_APP_ID, app.appId);
    env.put(Protocol.ENV_WAKE_ID, w.id);
    env.put(Protocol.ENV_HOME, home.toString());
    LaunchRequest request = new LaunchRequest(app.appId, w.id, app.launchCommand, env,
        TetherPaths.logDir(home).resolve("apps").resolve(app.appId + ".log"));
    try {
      w.process = launcher.launch(request);
    } catch (Exception e) {
      log.warn("could not launch {}: {}", app.appId, e.toString());
      end(w, WakeOutcome.CRASHED, "could not launch '" + app.launchCommand + "': " + e.getMessage());
      return;
    }
    db.setWakePid(w.id, w.process.pid());
    w.process.onExit().whenComplete((code, failure) -> actor.submit(() -> processExited(w, code == null ? -1 : code)));
  }

  private Wake newWake(String appId, boolean launched, List<PendingTask> ready, Instant now) {
    boolean budgeted = false;
    boolean url = false;
    for (PendingTask t : ready) {
      budgeted |= t.kind.budgeted();
      url |= t.kind == TaskKind.URL_SESSION;
    }
    WakeStat stat = admission.record(appId, now, budgeted, url);
    Wake w = new Wake(UUID.randomUUID().toString(), appId, now, launched, stat);
    w.tasks.addAll(ready);
    openWakes.put(w.id, w);
    updateBusy(w);
    for (PendingTask t : ready) {
      t.wakeId = w.id;
      queue.save(t);
    }
    String reason = w.reason();
    String taskJson = Json.write(TaskJson.of(w, false));
    db.insertWake(w.id, appId, now, launched, reason, taskJson, budgeted, url);
    log.info("wake {} for {} ({}): {}", w.id, appId, launched ? "launching" : "running app", w.reason());
    return w;
  }

  private void startAllowance(Wake w) {
    AppConfig cfg = apps.orDefaults(w.appId);
    w.endAt = w.started.plus(cfg.allowance);
    w.expireAt = w.endAt.minus(cfg.expirationLead());
    w.expireTimer = clock.schedule(w.expireAt, () -> actor.submit(() -> expiring(w)));
    w.endTimer = clock.schedule(w.endAt, () -> actor.submit(() -> allowanceOver(w)));
  }

  // ---------------------------------------------------------------- the app's process

  /**
   * A process tetherd launched connected claiming {@code wakeId}: it serves that wake, or (false) the claim is
   * refused.
   */
  boolean claim(AppConnections.Conn s, String wakeId) {
    ClientConnection c = s.connection;
    Wake w = openWakes.get(wakeId);
    if (w != null && w.appId.equals(c.appId()) && w.launched && w.connection == null && w.phase != Wake.Phase.ENDED) {
      w.connection = c;
      w.connectedOnce = true;
      s.wake = w;
      log.info("{} connected for wake {}", c.appId(), wakeId);
      return true;
    }
    return false;
  }

  /** The connection {@code s} closed: a running app's wake ends with it. */
  void connectionClosed(AppConnections.Conn s) {
    Wake w = s.wake;
    if (w.connection == s.connection) {
      w.connection = null;
    }
    if (!w.launched && w.phase != Wake.Phase.ENDED) {
      if (w.allDone() && w.awaitingAck == 0) {
        end(w, WakeOutcome.COMPLETED, null);
      } else {
        end(w, WakeOutcome.CRASHED, "the app closed its connection before completing its tasks");
      }
    }
  }

  /** The process behind {@code s} set a task handler: its wake's tasks not delivered yet go now. */
  void listening(AppConnections.Conn s) {
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
  }

  /** The app confirmed a push of wake {@code wakeId} (tasks or expiring tasks). */
  void delivered(String wakeId) {
    Wake w = openWakes.get(wakeId);
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
  }

  /** A task of the wake {@code t} belongs to was completed. */
  void taskCompleted(PendingTask t) {
    Wake wake = get(t.wakeId);
    if (wake != null) {
      checkDone(wake);
    }
  }

  /** Runs the expiration of the app's running wake now (the test kit); returns the wake. */
  Wake expireNow(String appId) {
    Wake w = joinable(appId);
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
    return w;
  }

  /**
   * Ends the app's open wakes for the user (KILLED): a launched process is killed ({@code force}) or asked to exit;
   * returns how many wakes it ended.
   */
  int stop(String appId, boolean force, String why) {
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
        end(w, WakeOutcome.KILLED, why);
      }
    }
    return wakes;
  }

  /** The daemon stops: timers off, launched processes killed. */
  void closeAll() {
    for (Wake w : openWakes.values()) {
      w.cancelTimers();
      if (w.process != null) {
        w.process.kill();
      }
    }
  }

  // ---------------------------------------------------------------- the phases

  private void deliver(Wake w, List<PendingTask> list) {
    for (PendingTask t : list) {
      t.state = PendingTask.State.DELIVERED;
      queue.save(t);
    }
    w.awaitingAck++;
    if (w.phase == Wake.Phase.LAUNCHING || w.phase == Wake.Phase.RUNNING) {
      setPhase(w, Wake.Phase.DELIVERING);
    } else {
      updateBusy(w);
    }
    WakePushes.tasks(w, list);
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
      end(w, WakeOutcome.COMPLETED, null);
    }
  }

  private void askToExit(Wake w, String reason) {
    setPhase(w, Wake.Phase.EXITING);
    if (w.expireTimer != null) {
      w.expireTimer.cancel();
      w.expireTimer = null;
    }
    if (w.connection != null) {
      WakePushes.exit(w, reason);
    }
    if (w.exitTimer != null) {
      w.exitTimer.cancel();
    }
    w.exitTimer = clock.schedule(clock.now().plus(EXIT_GRACE), () -> actor.submit(() -> {
      if (w.phase == Wake.Phase.ENDED) {
        return;
      }
      log.info("{} did not exit within {} s of being asked; sending SIGTERM", w.appId, EXIT_GRACE.toSeconds());
      w.process.terminate();
      w.exitTimer = clock.schedule(clock.now().plus(KILL_GRACE), () -> actor.submit(() -> {
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
    w.awaitingAck++;
    updateBusy(w);
    WakePushes.expiration(w, ids, false);
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
      WakePushes.expiration(w, ids, true);
    }
    if (w.launched && w.process != null) {
      log.info("wake {} of {}: allowance over with tasks not completed; ending the app", w.id, w.appId);
      setPhase(w, Wake.Phase.ENDING);
      w.process.kill();
    } else {
      end(w, WakeOutcome.EXPIRED, "the allowance ran out with tasks not completed");
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
      end(w, w.forcedOutcome, w.forcedReason);
    } else if (w.allDone() && everDelivered) {
      end(w, WakeOutcome.COMPLETED, null);
    } else if (w.expiredByAllowance) {
      AppConfig cfg = apps.orDefaults(w.appId);
      end(w, WakeOutcome.EXPIRED, "the allowance of " + cfg.allowance.toMillis() / 1000.0
          + " s ran out with tasks not completed; the app was ended and charged");
    } else {
      String tail = w.process.outputTail();
      String what = w.connectedOnce ? "exited with status " + code + " before completing its tasks"
          : "exited with status " + code + " before connecting to tetherd";
      if (code == 127) {
        what += " (127: the launch command was not found)";
      }
      end(w, WakeOutcome.CRASHED, what + (tail.isEmpty() ? "" : "; its last output: " + tail));
    }
  }

  /** Ends the wake: records its outcome and charge, finishes or gives back its tasks, then re-evaluates. */
  private void end(Wake w, WakeOutcome outcome, String error) {
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
      ObjectNode j = TaskJson.entry(t);
      if (t.done()) {
        j.put("state", t.state == PendingTask.State.COMPLETED ? "completed" : "failed");
        if (t.failure != null) {
          j.put("error", t.failure);
        }
        queue.remove(t);
      } else if (t.state == PendingTask.State.DELIVERED && t.kind == TaskKind.APP_REFRESH) {
        j.put("state", outcome.name().toLowerCase(Locale.ROOT));
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
    afterEnd.run();
  }

  private void setPhase(Wake w, Wake.Phase phase) {
    w.phase = phase;
    updateBusy(w);
  }

  /** A wake in a transitional phase, or waiting for the app to confirm a push, counts as activity. */
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

  private void saveWakeTasks(Wake w) {
    db.saveWakeTasks(w.id, Json.write(TaskJson.of(w, false)), w.reason());
  }
}
