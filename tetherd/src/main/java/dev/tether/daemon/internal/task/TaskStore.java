package dev.tether.daemon.internal.task;

import dev.tether.daemon.internal.store.SqlWork;
import dev.tether.daemon.internal.store.StatementCache;
import dev.tether.daemon.internal.store.Store;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Called on the task thread ({@code tether-tasks}) only, which hands each write to the store's writer in call order:
 * all SQL on {@code task_apps}, {@code task_pending} and {@code task_wakes}. The values to write are read on the task
 * thread; the statements run on the writer (or a leased reader) through the prepared-statement cache; a write's
 * future completes back on the task thread. Each write counts as {@link Activity} until then.
 */
final class TaskStore {
  private static final Logger log = LoggerFactory.getLogger(TaskStore.class);

  /** A wake a previous tetherd left open (no end recorded). */
  record OpenWakeRow(String id, String appId, long startedAt, Long pid, boolean launched) {}

  /** One row of the wake timeline, newest first. */
  record WakeRow(String id, String appId, long startedAt, Long endedAt, boolean launched, String reason, String tasks,
      String outcome, Long pid, Long durationMs, long overrunMs, long chargedMs, String error) {}

  /** What is recorded when a wake ends. */
  record WakeEnd(long endedAt, WakeOutcome outcome, long durationMs, long overrunMs, long chargedMs, String error,
      String tasks, String reason, boolean budgeted, boolean urlSession) {}

  private final Store store;
  private final Activity activity;
  /** The task thread: where a write's continuations run (never on the store's writer). */
  private final Executor owner;
  private final StatementCache statements = new StatementCache();
  private CompletableFuture<Void> lastWrite = CompletableFuture.completedFuture(null);

  TaskStore(Store store, Activity activity, Executor owner) {
    this.store = store;
    this.activity = activity;
    this.owner = owner;
  }

  // ---------------------------------------------------------------- start-up

  List<AppConfig> loadApps() {
    return store.read(c -> {
      List<AppConfig> apps = new ArrayList<>();
      PreparedStatement p = statements.get(c, "SELECT app_id, launch_command, allowance_ms, wakes_per_hour,"
          + " complication_active, daily_runtime_ms, url_session_spacing_ms, force_quit, registered_at FROM task_apps"
          + " ORDER BY app_id");
      try (ResultSet rs = p.executeQuery()) {
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
          apps.add(a);
        }
      }
      return apps;
    });
  }

  List<PendingTask> loadTasks() {
    return store.read(c -> {
      List<PendingTask> tasks = new ArrayList<>();
      PreparedStatement p = statements.get(c, "SELECT id, app_id, kind, session_identifier, user_info, due_at,"
          + " created_at, state, wake_id, reason, not_before, attempts, bypass_budget, coalesced FROM task_pending"
          + " ORDER BY created_at, rowid");
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          PendingTask t = new PendingTask(rs.getString(1), rs.getString(2), TaskKind.fromWire(rs.getString(3)),
              rs.getString(4), Instant.ofEpochMilli(rs.getLong(7)));
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
          tasks.add(t);
        }
      }
      return tasks;
    });
  }

  /** Wakes left open by a daemon that stopped or was killed. */
  List<OpenWakeRow> openWakes() {
    return store.read(c -> {
      List<OpenWakeRow> l = new ArrayList<>();
      PreparedStatement p = statements.get(c, "SELECT id, app_id, started_at, pid, launched FROM task_wakes"
          + " WHERE ended_at IS NULL");
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          long pid = rs.getLong(4);
          Long pidOrNull = rs.wasNull() ? null : pid;
          l.add(new OpenWakeRow(rs.getString(1), rs.getString(2), rs.getLong(3), pidOrNull, rs.getInt(5) == 1));
        }
      }
      return l;
    });
  }

  /** Records a wake a previous tetherd left open as KILLED (not charged) and gives its tasks back; waits for it. */
  void endLeftOpenWake(String id, Instant now, long durationMs) {
    store.writeAndWait(c -> {
      PreparedStatement p = statements.get(c, "UPDATE task_wakes SET ended_at = ?, outcome = ?, duration_ms = ?,"
          + " error = ?, budgeted = 0, url_session = 0 WHERE id = ?");
      p.setLong(1, now.toEpochMilli());
      p.setString(2, WakeOutcome.KILLED.name());
      p.setLong(3, durationMs);
      p.setString(4, "tetherd stopped during this wake; its tasks were given back");
      p.setString(5, id);
      p.executeUpdate();
      PreparedStatement q = statements.get(c, "UPDATE task_pending SET state = 'PENDING', wake_id = NULL"
          + " WHERE wake_id = ?");
      q.setString(1, id);
      q.executeUpdate();
      return null;
    });
  }

  /** No app is connected after a start; waits for it. */
  void clearForeground() {
    store.writeAndWait(c -> {
      statements.get(c, "UPDATE task_apps SET foreground = 0 WHERE foreground != 0").executeUpdate();
      return null;
    });
  }

  /** What budgets need of the wakes started after {@code since} (refused claims do not count), per app. */
  Map<String, List<WakeStat>> recentWakes(Instant since) {
    return store.read(c -> {
      Map<String, List<WakeStat>> recent = new HashMap<>();
      PreparedStatement p = statements.get(c, "SELECT app_id, started_at, budgeted, url_session, charged_ms"
          + " FROM task_wakes WHERE started_at > ? AND outcome IS NOT 'REFUSED'");
      p.setLong(1, since.toEpochMilli());
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          recent.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(new WakeStat(
              Instant.ofEpochMilli(rs.getLong(2)), rs.getInt(3) == 1, rs.getInt(4) == 1, rs.getLong(5)));
        }
      }
      return recent;
    });
  }

  // ---------------------------------------------------------------- apps

  CompletableFuture<Void> saveApp(AppConfig a, boolean foreground, Instant now) {
    String appId = a.appId;
    String launch = a.launchCommand;
    long allowance = a.allowance.toMillis();
    Integer wph = a.wakesPerHour;
    boolean complication = a.complicationActive;
    long daily = a.dailyRuntime.toMillis();
    long spacing = a.urlSessionSpacing.toMillis();
    boolean forceQuit = a.forceQuit;
    long registered = a.registeredAt == null ? now.toEpochMilli() : a.registeredAt.toEpochMilli();
    return write(c -> {
      PreparedStatement p = statements.get(c, "INSERT OR REPLACE INTO task_apps(app_id, launch_command,"
          + " allowance_ms, wakes_per_hour, complication_active, daily_runtime_ms, url_session_spacing_ms, force_quit,"
          + " registered_at, foreground) VALUES (?,?,?,?,?,?,?,?,?,?)");
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
      return null;
    });
  }

  CompletableFuture<Void> deleteApp(String appId) {
    return write(c -> {
      PreparedStatement p = statements.get(c, "DELETE FROM task_apps WHERE app_id = ?");
      p.setString(1, appId);
      p.executeUpdate();
      return null;
    });
  }

  // ---------------------------------------------------------------- tasks

  CompletableFuture<Void> saveTask(PendingTask t) {
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
      PreparedStatement p = statements.get(c, "INSERT OR REPLACE INTO task_pending(id, app_id, kind,"
          + " session_identifier, user_info, due_at, created_at, state, wake_id, reason, not_before, attempts,"
          + " bypass_budget, coalesced) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
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
      return null;
    });
  }

  void deleteTask(String id) {
    write(c -> {
      PreparedStatement p = statements.get(c, "DELETE FROM task_pending WHERE id = ?");
      p.setString(1, id);
      p.executeUpdate();
      return null;
    });
  }

  // ---------------------------------------------------------------- wakes

  void insertWake(String id, String appId, Instant started, boolean launched, String reason, String tasks,
      boolean budgeted, boolean urlSession) {
    long startedAt = started.toEpochMilli();
    write(c -> {
      PreparedStatement p = statements.get(c, "INSERT INTO task_wakes(id, app_id, started_at, launched, reason,"
          + " tasks, budgeted, url_session) VALUES (?,?,?,?,?,?,?,?)");
      p.setString(1, id);
      p.setString(2, appId);
      p.setLong(3, startedAt);
      p.setInt(4, launched ? 1 : 0);
      p.setString(5, reason);
      p.setString(6, tasks);
      p.setInt(7, budgeted ? 1 : 0);
      p.setInt(8, urlSession ? 1 : 0);
      p.executeUpdate();
      return null;
    });
  }

  /** Records a process's claim of a wake or app tetherd does not know, as an ended wake with no tasks. */
  CompletableFuture<Void> insertRefusedWake(String id, String appId, Instant now, String reason, long pid,
      String error) {
    long at = now.toEpochMilli();
    return write(c -> {
      PreparedStatement p = statements.get(c, "INSERT INTO task_wakes(id, app_id, started_at, ended_at, launched,"
          + " reason, tasks, outcome, pid, duration_ms, error) VALUES (?,?,?,?,0,?,'[]',?,?,0,?)");
      p.setString(1, id);
      p.setString(2, appId);
      p.setLong(3, at);
      p.setLong(4, at);
      p.setString(5, reason);
      p.setString(6, WakeOutcome.REFUSED.name());
      p.setLong(7, pid);
      p.setString(8, error);
      p.executeUpdate();
      return null;
    });
  }

  void setWakePid(String id, long pid) {
    write(c -> {
      PreparedStatement p = statements.get(c, "UPDATE task_wakes SET pid = ? WHERE id = ?");
      p.setLong(1, pid);
      p.setString(2, id);
      p.executeUpdate();
      return null;
    });
  }

  void saveWakeTasks(String id, String tasks, String reason) {
    write(c -> {
      PreparedStatement p = statements.get(c, "UPDATE task_wakes SET tasks = ?, reason = ? WHERE id = ?"
          + " AND ended_at IS NULL");
      p.setString(1, tasks);
      p.setString(2, reason);
      p.setString(3, id);
      p.executeUpdate();
      return null;
    });
  }

  void endWake(String id, WakeEnd e) {
    write(c -> {
      PreparedStatement p = statements.get(c, "UPDATE task_wakes SET ended_at = ?, outcome = ?, duration_ms = ?,"
          + " overrun_ms = ?, charged_ms = ?, error = ?, tasks = ?, reason = ?, budgeted = ?, url_session = ?"
          + " WHERE id = ?");
      p.setLong(1, e.endedAt());
      p.setString(2, e.outcome().name());
      p.setLong(3, e.durationMs());
      p.setLong(4, e.overrunMs());
      p.setLong(5, e.chargedMs());
      p.setString(6, e.error());
      p.setString(7, e.tasks());
      p.setString(8, e.reason());
      p.setInt(9, e.budgeted() ? 1 : 0);
      p.setInt(10, e.urlSession() ? 1 : 0);
      p.setString(11, id);
      p.executeUpdate();
      return null;
    });
  }

  /** Whether any wake of {@code appId} was ever recorded. */
  boolean hasWakes(String appId) {
    return store.read(c -> {
      PreparedStatement p = statements.get(c, "SELECT 1 FROM task_wakes WHERE app_id = ? LIMIT 1");
      p.setString(1, appId);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next();
      }
    });
  }

  /** The newest {@code limit} wakes, of one app or (null) of all. */
  List<WakeRow> timeline(String appId, int limit) {
    return store.read(c -> {
      PreparedStatement p;
      if (appId == null) {
        p = statements.get(c, "SELECT id, app_id, started_at, ended_at, launched, reason, tasks, outcome, pid,"
            + " duration_ms, overrun_ms, charged_ms, error FROM task_wakes ORDER BY started_at DESC, rowid DESC LIMIT ?");
        p.setInt(1, limit);
      } else {
        p = statements.get(c, "SELECT id, app_id, started_at, ended_at, launched, reason, tasks, outcome, pid,"
            + " duration_ms, overrun_ms, charged_ms, error FROM task_wakes WHERE app_id = ?"
            + " ORDER BY started_at DESC, rowid DESC LIMIT ?");
        p.setString(1, appId);
        p.setInt(2, limit);
      }
      List<WakeRow> rows = new ArrayList<>();
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          long ended = rs.getLong(4);
          Long endedAt = rs.wasNull() ? null : ended;
          long pid = rs.getLong(9);
          Long pidOrNull = rs.wasNull() ? null : pid;
          long d = rs.getLong(10);
          Long duration = rs.wasNull() ? null : d;
          rows.add(new WakeRow(rs.getString(1), rs.getString(2), rs.getLong(3), endedAt, rs.getInt(5) == 1,
              rs.getString(6), rs.getString(7), rs.getString(8), pidOrNull, duration, rs.getLong(11), rs.getLong(12),
              rs.getString(13)));
        }
      }
      return rows;
    });
  }

  // ---------------------------------------------------------------- writes

  /** Completes on the task thread once every write queued so far has committed (writes commit in order). */
  CompletableFuture<Void> pendingWrites() {
    return lastWrite;
  }

  /** Queues {@code work} on the store's writer; the returned future completes on the task thread after the commit. */
  private <T> CompletableFuture<T> write(SqlWork<T> work) {
    activity.begin();
    CompletableFuture<T> onOwner = store.write(work).whenCompleteAsync((v, e) -> {
      if (e != null) {
        log.error("task store write failed", e);
      }
      activity.end();
    }, owner);
    lastWrite = onOwner.handle((v, e) -> null);
    return onOwner;
  }
}
