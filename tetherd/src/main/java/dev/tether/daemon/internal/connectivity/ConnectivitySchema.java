package dev.tether.daemon.internal.connectivity;

import dev.tether.daemon.internal.store.Migration;
import java.util.List;

/**
 * Immutable; any thread: the connectivity capability's tables (and the link's and relay's), in migration order.
 */
final class ConnectivitySchema {
  private ConnectivitySchema() {}

  static List<Migration> migrations() {
    return List.of(new Migration("connectivity-001", """
        CREATE TABLE cx_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE cx_peers (fingerprint TEXT PRIMARY KEY, cert BLOB NOT NULL, peer_role TEXT NOT NULL, address TEXT,
          active INTEGER NOT NULL DEFAULT 0, paired_at INTEGER NOT NULL);
        CREATE TABLE cx_apps (app TEXT PRIMARY KEY, complication INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE cx_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, peer TEXT NOT NULL,
          app TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT, file TEXT, size INTEGER, sha256 TEXT, created_at INTEGER NOT NULL);
        CREATE INDEX cx_outbox_peer ON cx_outbox(peer, seq);
        CREATE INDEX cx_outbox_app ON cx_outbox(app, seq);
        CREATE TABLE cx_context_out (app TEXT NOT NULL, peer TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
          payload TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (app, peer));
        CREATE TABLE cx_context_in (app TEXT PRIMARY KEY, id TEXT NOT NULL, version INTEGER NOT NULL, payload TEXT NOT NULL);
        CREATE TABLE cx_seen (id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE cx_inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, peer TEXT NOT NULL, app TEXT NOT NULL,
          kind TEXT NOT NULL, payload TEXT, file TEXT, received_at INTEGER NOT NULL);
        CREATE INDEX cx_inbox_app ON cx_inbox(app, seq);
        CREATE TABLE cx_complications (app TEXT NOT NULL, at INTEGER NOT NULL);
        CREATE INDEX cx_complications_app ON cx_complications(app, at)
        """),
        // every transfer paid for this index twice (insert and delete); the per-app listings scan the outbox instead
        new Migration("connectivity-002", "DROP INDEX cx_outbox_app"),
        // transfers that failed for good (DELIVERY_FAILED), kept until the sending app has been told
        new Migration("connectivity-003", """
            CREATE TABLE cx_failed (seq INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, id TEXT NOT NULL,
              kind TEXT NOT NULL, code TEXT NOT NULL, error TEXT NOT NULL, failed_at INTEGER NOT NULL);
            CREATE INDEX cx_failed_app ON cx_failed(app, seq);
            """),
        // the MQTT broker links relay through when the peer cannot be reached directly (LinkManager.setRelay)
        new Migration("connectivity-004", "CREATE TABLE cx_relay (id INTEGER PRIMARY KEY CHECK (id = 1), broker TEXT NOT NULL)"),
        // the relay broker's MQTT credentials and the PEM text of the CA bundle its TLS certificate is checked against
        // (the database is in the 0700 home, like the link's private key)
        new Migration("connectivity-005", """
            ALTER TABLE cx_relay ADD COLUMN username TEXT;
            ALTER TABLE cx_relay ADD COLUMN password TEXT;
            ALTER TABLE cx_relay ADD COLUMN ca_pem TEXT;
            """),
        // which peer sent each seen id, under which of its sequence numbers: what lets cx_seen be pruned (ids seen
        // before this migration keep NULLs and stay)
        new Migration("connectivity-006", """
            ALTER TABLE cx_seen ADD COLUMN peer TEXT;
            ALTER TABLE cx_seen ADD COLUMN peer_seq INTEGER
            """),
        // the X.509 client certificate (PEM chain) and its private key (unencrypted PKCS#8 PEM) the relay logs in to its
        // broker with over TLS, kept like the relay's password (the database is in the 0700 home)
        new Migration("connectivity-007", """
            ALTER TABLE cx_relay ADD COLUMN client_cert_pem TEXT;
            ALTER TABLE cx_relay ADD COLUMN client_key_pem TEXT;
            """));
  }
}
