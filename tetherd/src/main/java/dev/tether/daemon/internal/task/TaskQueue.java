package dev.tether.daemon.internal.task;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.time.TetherClock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Confined to the task thread ({@code tether-tasks}), where the task service hands it producers' work: the tasks not
 * yet finished ({@code task_pending}), added and coalesced, withdrawn, given back after a failed wake, written through
 * to the store.
 */
final class TaskQueue {
  private static final Logger log = LoggerFactory.getLogger(TaskQueue.class);

  private final Map<String, PendingTask> tasks = new LinkedHashMap<>();
  private final TaskStore db;
  private final TetherClock clock;

  TaskQueue(TaskStore db, TetherClock clock) {
    this.db = db;
    this.clock = clock;
  }

  void load() {
    for (PendingTask t : db.loadTasks()) {
      tasks.put(t.id, t);
    }
  }

  /** After a start no wake is open: completed tasks whose wake was not recorded as ended are done; the others wait again. */
  void reopenAfterStart() {
    for (PendingTask t : List.copyOf(tasks.values())) {
      if (t.done()) {
        remove(t);
      } else if (t.wakeId != null || t.state != PendingTask.State.PENDING) {
        t.wakeId = null;
        t.state = PendingTask.State.PENDING;
        save(t);
      }
    }
  }

  /** Gives back (in memory; the store does it with the wake's end) the tasks of a wake a previous tetherd left open. */
  void giveBack(String wakeId) {
    for (PendingTask t : tasks.values()) {
      if (wakeId.equals(t.wakeId)) {
        t.wakeId = null;
        t.state = PendingTask.State.PENDING;
      }
    }
  }

  PendingTask get(String id) {
    return tasks.get(id);
  }

  Collection<PendingTask> all() {
    return tasks.values();
  }

  int size() {
    return tasks.size();
  }

  /** The tasks not handed to any wake yet, per app, in order. */
  Map<String, List<PendingTask>> waitingByApp() {
    Map<String, List<PendingTask>> byApp = new LinkedHashMap<>();
    for (PendingTask t : tasks.values()) {
      if (t.state == PendingTask.State.PENDING && t.wakeId == null) {
        byApp.computeIfAbsent(t.appId, k -> new ArrayList<>()).add(t);
      }
    }
    return byApp;
  }

  /** How many tasks of {@code appId} are not complete. */
  int unfinished(String appId) {
    int n = 0;
    for (PendingTask t : tasks.values()) {
      if (t.appId.equals(appId) && !t.done()) {
        n++;
      }
    }
    return n;
  }

  boolean anyOf(String appId) {
    return tasks.values().stream().anyMatch(t -> t.appId.equals(appId));
  }

  /** Adds a task, or coalesces it with an open one of the same app, kind and session (a refresh replaces one). */
  PendingTask enqueue(String appId, TaskKind kind, String session, String userInfo, Instant due, String reason, boolean bypass) {
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
      } else if (kind == TaskKind.CONNECTIVITY || Objects.equals(t.sessionIdentifier, session)) {
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
      task = new PendingTask(UUID.randomUUID().toString(), appId, kind, session, now);
      task.userInfo = userInfo;
      task.dueAt = due;
      task.reason = reason;
      task.bypassBudget = bypass;
      if (existing != null) {
        task.coalesced = existing.coalesced + 1;
        remove(existing);
      }
      tasks.put(task.id, task);
    }
    save(task);
    log.debug("{} task {} for {} ({})", existing == null ? "new" : "coalesced", task.describe(), appId, reason);
    return task;
  }

  /** Drops a task not yet handed to the app whose work the app already did by itself. */
  void withdraw(String appId, TaskKind kind, String session) {
    for (PendingTask t : List.copyOf(tasks.values())) {
      if (t.appId.equals(appId) && t.kind == kind && Objects.equals(t.sessionIdentifier, session)
          && t.state == PendingTask.State.PENDING && t.wakeId == null) {
        remove(t);
        log.info("withdrew {} task for {}: the app handled it while running", t.describe(), appId);
      }
    }
  }

  /**
   * A new launch command is the operator's answer to wakes that failed (a command not found, an app that crashed):
   * the tasks waiting out a retry back-off after them may go at once, and a new failure backs off from the start.
   */
  CompletableFuture<Void> retryNow(String appId) {
    List<CompletableFuture<Void>> saves = new ArrayList<>();
    for (PendingTask t : tasks.values()) {
      if (t.appId.equals(appId) && t.state == PendingTask.State.PENDING && t.notBefore != null) {
        log.info("task {} of {} no longer waits for its retry back-off: the app has a new launch command", t.id, appId);
        t.notBefore = null;
        t.attempts = 0;
        saves.add(save(t));
      }
    }
    return CompletableFuture.allOf(saves.toArray(CompletableFuture[]::new));
  }

  /** Gives a task of a failed wake back to pending after its retry back-off, merged into an open one of its kind. */
  void requeue(PendingTask t, Instant now) {
    t.state = PendingTask.State.PENDING;
    t.wakeId = null;
    t.attempts++;
    t.notBefore = now.plus(WakeAdmission.retryBackoff(t.attempts));
    for (PendingTask other : tasks.values()) {
      if (other != t && other.appId.equals(t.appId) && other.kind == t.kind && !other.done() && other.wakeId == null
          && Objects.equals(other.sessionIdentifier, t.sessionIdentifier)) {
        other.coalesced += 1 + t.coalesced;
        save(other);
        remove(t);
        return;
      }
    }
    save(t);
  }

  /** Forgets a task (finished, replaced, withdrawn). */
  void remove(PendingTask t) {
    tasks.remove(t.id);
    db.deleteTask(t.id);
  }

  CompletableFuture<Void> save(PendingTask t) {
    return db.saveTask(t);
  }
}
