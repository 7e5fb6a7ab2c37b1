package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
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
 * cx_failed}: transfers that failed for good, kept until their app was told; and the failing of a peer's queued rows
 * ({@code cx_outbox}, {@code cx_context_out}) into it.
 */
final class FailureStore {
  private final Store store;
  private final StatementCache statements = new StatementCache();

  FailureStore(Store store) {
    this.store = store;
  }

  /** A transfer that failed: its app, id, outbox kind and snapshot file (null for user info). */
  record Failed(String app, String id, String kind, String file) {}

  /**
   * Removes every transfer queued for {@code peer} from the outbox and its contexts, and records each as failed with
   * {@code DELIVERY_FAILED} and {@code why}, in one transaction.
   */
  CompletableFuture<List<Failed>> failQueuedFor(String peer, String why) {
    return store.write(conn -> {
      List<Failed> failed = new ArrayList<>();
      PreparedStatement del = statements.get(conn, "DELETE FROM cx_outbox WHERE peer = ? RETURNING app, id, kind, file");
      del.setString(1, peer);
      try (ResultSet rs = del.executeQuery()) {
        while (rs.next()) {
          failed.add(new Failed(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
        }
      }
      // the app may not be running: what it must be told is kept until it has acknowledged it
      PreparedStatement ins = statements.get(conn, "INSERT INTO cx_failed(app, id, kind, code, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)");
      for (Failed d : failed) {
        ins.setString(1, d.app());
        ins.setString(2, d.id());
        ins.setString(3, d.kind().equals("file") ? "file" : "userInfo");
        ins.setString(4, ErrorCode.DELIVERY_FAILED.name());
        ins.setString(5, why);
        ins.setLong(6, System.currentTimeMillis());
        ins.addBatch();
      }
      ins.executeBatch();
      PreparedStatement ctx = statements.get(conn, "DELETE FROM cx_context_out WHERE peer = ?");
      ctx.setString(1, peer);
      ctx.executeUpdate();
      return failed;
    });
  }

  /** The app's failures not yet acknowledged, in order, as {@code cx.finished} bodies with their {@code failure} number. */
  List<ObjectNode> unacknowledged(String app) {
    return store.read(conn -> {
      List<ObjectNode> l = new ArrayList<>();
      PreparedStatement q = statements.get(conn, "SELECT seq, id, kind, code, error FROM cx_failed WHERE app = ? ORDER BY seq");
      q.setString(1, app);
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          ObjectNode ev = Json.object();
          ev.put("failure", rs.getLong(1));
          ev.put("id", rs.getString(2));
          ev.put("kind", rs.getString(3));
          ev.put("code", rs.getString(4));
          ev.put("error", rs.getString(5));
          l.add(ev);
        }
      }
      return l;
    });
  }

  /** Forgets the app's failures with these numbers (only its own). */
  CompletableFuture<Void> acknowledge(String app, List<Long> failures) {
    return store.write(conn -> {
      PreparedStatement del = statements.get(conn, "DELETE FROM cx_failed WHERE seq = ? AND app = ?");
      for (long seq : failures) {
        del.setLong(1, seq);
        del.setString(2, app);
        del.addBatch();
      }
      del.executeBatch();
      return null;
    });
  }

  /** Drops failures recorded before {@code cutoffMillis}; waits for the commit. */
  int dropOlderThan(long cutoffMillis) {
    return store.writeAndWait(conn -> {
      PreparedStatement del = statements.get(conn, "DELETE FROM cx_failed WHERE failed_at < ?");
      del.setLong(1, cutoffMillis);
      return del.executeUpdate();
    });
  }

  /** The peers with transfers or contexts still queued. */
  List<String> peersWithQueuedTransfers() {
    return store.read(conn -> {
      List<String> l = new ArrayList<>();
      PreparedStatement q = statements.get(conn, "SELECT DISTINCT peer FROM cx_outbox UNION SELECT DISTINCT peer FROM cx_context_out");
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          l.add(rs.getString(1));
        }
      }
      return l;
    });
  }
}
