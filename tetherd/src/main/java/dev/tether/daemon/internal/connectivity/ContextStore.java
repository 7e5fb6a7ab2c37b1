package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.store.StatementCache;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Json;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Any thread calls it: writes run on the store's writer thread, reads on a pooled reader. All SQL on {@code
 * cx_context_out} and {@code cx_context_in} (and the context's row in {@code cx_inbox}): the latest application
 * context per app, sent and received.
 */
final class ContextStore {
  private final Store store;
  private final StatementCache statements = new StatementCache();

  ContextStore(Store store) {
    this.store = store;
  }

  /** Queues the app's new context for {@code peer} unless it equals the latest one; true if it was queued. */
  CompletableFuture<Boolean> replaceOutgoing(String app, String peer, String id, long version, String payload) {
    return store.write(conn -> {
      PreparedStatement q = statements.get(conn, "SELECT payload FROM cx_context_out WHERE app = ? ORDER BY version DESC LIMIT 1");
      q.setString(1, app);
      try (ResultSet rs = q.executeQuery()) {
        if (rs.next() && rs.getString(1).equals(payload)) {
          return false;
        }
      }
      PreparedStatement s = statements.get(conn, "INSERT INTO cx_context_out(app, peer, id, version, payload, sent) VALUES (?, ?, ?, ?, ?, 0) "
          + "ON CONFLICT(app, peer) DO UPDATE SET id = excluded.id, version = excluded.version, payload = excluded.payload, sent = 0");
      s.setString(1, app);
      s.setString(2, peer);
      s.setString(3, id);
      s.setLong(4, version);
      s.setString(5, payload);
      s.executeUpdate();
      return true;
    });
  }

  /**
   * Stores a context from {@code peer} unless its version is not above the stored one, replacing the app's undelivered
   * context in the inbox; true if it was stored.
   */
  CompletableFuture<Boolean> storeIncoming(String peer, String app, String id, long version, String payload) {
    return store.write(conn -> {
      // a context sent again, or overtaken by a newer one, has a version not above the stored one: dropped (contexts
      // are not kept in cx_seen, which only the outbox's sequence numbers prune)
      PreparedStatement q = statements.get(conn, "SELECT version FROM cx_context_in WHERE app = ?");
      q.setString(1, app);
      try (ResultSet rs = q.executeQuery()) {
        if (rs.next() && rs.getLong(1) >= version) {
          return false;
        }
      }
      PreparedStatement s = statements.get(conn, "INSERT INTO cx_context_in(app, id, version, payload) VALUES (?, ?, ?, ?) "
          + "ON CONFLICT(app) DO UPDATE SET id = excluded.id, version = excluded.version, payload = excluded.payload");
      s.setString(1, app);
      s.setString(2, id);
      s.setLong(3, version);
      s.setString(4, payload);
      s.executeUpdate();
      PreparedStatement del = statements.get(conn, "DELETE FROM cx_inbox WHERE app = ? AND kind = 'context'");
      del.setString(1, app);
      del.executeUpdate();
      PreparedStatement ins = statements.get(conn, "INSERT INTO cx_inbox(id, peer, app, kind, payload, received_at) VALUES (?, ?, ?, 'context', ?, ?)");
      ins.setString(1, id);
      ins.setString(2, peer);
      ins.setString(3, app);
      ins.setString(4, payload);
      ins.setLong(5, System.currentTimeMillis());
      ins.executeUpdate();
      return true;
    });
  }

  /** The peer stored the app's context {@code id}: it is not sent again. */
  void markSent(String app, String id) {
    store.write(conn -> {
      PreparedStatement s = statements.get(conn, "UPDATE cx_context_out SET sent = 1 WHERE app = ? AND id = ?");
      s.setString(1, app);
      s.setString(2, id);
      s.executeUpdate();
      return null;
    });
  }

  /** The app's latest context sent (its payload text), or null. */
  String latestSent(String app) {
    return one("SELECT payload FROM cx_context_out WHERE app = ? ORDER BY version DESC LIMIT 1", app);
  }

  /** The app's latest context received (its payload text), or null. */
  String received(String app) {
    return one("SELECT payload FROM cx_context_in WHERE app = ?", app);
  }

  private String one(String sql, String app) {
    return store.read(conn -> {
      PreparedStatement s = statements.get(conn, sql);
      s.setString(1, app);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    });
  }

  /** The contexts queued for {@code peer} and not yet acknowledged, as {@code ctx} frames. */
  List<ObjectNode> unsent(String peer) {
    return store.read(conn -> {
      List<ObjectNode> list = new ArrayList<>();
      PreparedStatement s = statements.get(conn, "SELECT app, id, version, payload FROM cx_context_out WHERE peer = ? AND sent = 0");
      s.setString(1, peer);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          ObjectNode o = Json.object();
          o.put("app", rs.getString(1));
          o.put("id", rs.getString(2));
          o.put("version", rs.getLong(3));
          o.set("payload", Json.parse(rs.getString(4)));
          list.add(o);
        }
      }
      return list;
    });
  }
}
