package dev.tether.daemon.internal.transfer;

import dev.tether.daemon.internal.store.Migration;
import java.util.List;

/** Stateless; the store reads it once at start: the transfer capability's tables, in migration order. */
final class TransferSchema {
  private TransferSchema() {}

  static List<Migration> migrations() {
    return List.of(new Migration("transfer-001", """
        CREATE TABLE transfer_sessions (
          app_id TEXT NOT NULL,
          identifier TEXT NOT NULL,
          config TEXT NOT NULL,
          next_seq INTEGER NOT NULL DEFAULT 1,
          last_event_type TEXT,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (app_id, identifier));
        CREATE TABLE transfers (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          app_id TEXT NOT NULL,
          session TEXT NOT NULL,
          kind TEXT NOT NULL,
          url TEXT NOT NULL,
          method TEXT NOT NULL,
          headers TEXT,
          description TEXT,
          earliest_begin INTEGER,
          expected_bytes INTEGER NOT NULL DEFAULT -1,
          total_bytes INTEGER NOT NULL DEFAULT -1,
          bytes_done INTEGER NOT NULL DEFAULT 0,
          state TEXT NOT NULL,
          phase TEXT NOT NULL DEFAULT 'ready',
          etag TEXT,
          last_modified TEXT,
          accept_ranges INTEGER NOT NULL DEFAULT 0,
          destination TEXT,
          temp_file TEXT,
          upload_file TEXT,
          status INTEGER NOT NULL DEFAULT 0,
          error_code TEXT,
          error_message TEXT,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER NOT NULL DEFAULT 0,
          created_at INTEGER NOT NULL,
          deadline INTEGER NOT NULL,
          completed_at INTEGER,
          credential TEXT,
          challenge_count INTEGER NOT NULL DEFAULT 0,
          FOREIGN KEY (app_id, session) REFERENCES transfer_sessions(app_id, identifier));
        CREATE INDEX transfers_by_session ON transfers(app_id, session, state);
        CREATE INDEX transfers_by_state ON transfers(state);
        CREATE TABLE transfer_events (
          app_id TEXT NOT NULL,
          session TEXT NOT NULL,
          seq INTEGER NOT NULL,
          type TEXT NOT NULL,
          transfer_id INTEGER,
          body TEXT NOT NULL,
          file TEXT,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (app_id, session, seq));
        CREATE TABLE transfer_conditions (
          name TEXT PRIMARY KEY,
          value TEXT NOT NULL);
        """),
        // the upload resource of an upload that a server takes through the IETF resumable-upload protocol
        new Migration("transfer-002", "ALTER TABLE transfers ADD COLUMN upload_resource TEXT;"));
  }
}
