package dev.tether.daemon.internal.task;

import dev.tether.daemon.internal.store.Migration;
import java.util.List;

/**
 * Stateless, run by the store at open: the task service's schema (registered apps, tasks not yet finished, the wake
 * timeline).
 */
final class TaskTables {
  private TaskTables() {}

  static List<Migration> migrations() {
    return List.of(new Migration("task-001", """
        CREATE TABLE task_apps (
          app_id TEXT PRIMARY KEY,
          launch_command TEXT NOT NULL,
          allowance_ms INTEGER NOT NULL,
          wakes_per_hour INTEGER,
          complication_active INTEGER NOT NULL DEFAULT 0,
          daily_runtime_ms INTEGER NOT NULL,
          url_session_spacing_ms INTEGER NOT NULL,
          force_quit INTEGER NOT NULL DEFAULT 0,
          foreground INTEGER NOT NULL DEFAULT 0,
          registered_at INTEGER NOT NULL
        );
        CREATE TABLE task_pending (
          id TEXT PRIMARY KEY,
          app_id TEXT NOT NULL,
          kind TEXT NOT NULL,
          session_identifier TEXT,
          user_info TEXT,
          due_at INTEGER NOT NULL,
          created_at INTEGER NOT NULL,
          state TEXT NOT NULL,
          wake_id TEXT,
          reason TEXT,
          not_before INTEGER,
          attempts INTEGER NOT NULL DEFAULT 0,
          bypass_budget INTEGER NOT NULL DEFAULT 0,
          coalesced INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX task_pending_app ON task_pending(app_id);
        CREATE TABLE task_wakes (
          id TEXT PRIMARY KEY,
          app_id TEXT NOT NULL,
          started_at INTEGER NOT NULL,
          ended_at INTEGER,
          launched INTEGER NOT NULL,
          reason TEXT NOT NULL,
          tasks TEXT NOT NULL,
          outcome TEXT,
          pid INTEGER,
          duration_ms INTEGER,
          overrun_ms INTEGER NOT NULL DEFAULT 0,
          charged_ms INTEGER NOT NULL DEFAULT 0,
          budgeted INTEGER NOT NULL DEFAULT 0,
          url_session INTEGER NOT NULL DEFAULT 0,
          error TEXT
        );
        CREATE INDEX task_wakes_app ON task_wakes(app_id, started_at)
        """));
  }
}
