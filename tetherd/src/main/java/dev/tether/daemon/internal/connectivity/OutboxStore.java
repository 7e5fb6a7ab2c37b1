package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.store.StatementCache;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Json;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Any thread calls it: writes run on the store's writer thread (inserts through the outbox's group writer), reads on a
 * pooled reader. All SQL of the sending app's side on {@code cx_outbox} and {@code cx_complications}: queuing (through
 * the outbox's {@link GroupWriter}, on the store's writer thread), listing, cancelling and deleting what the peer
 * acknowledged.
 */
final class OutboxStore {
  private final Store store;
  private final StatementCache statements = new StatementCache();

  OutboxStore(Store store) {
    this.store = store;
  }

  /** A transfer queued by a local app. */
  record Outgoing(String id, String peer, String app, String kind, String payload, String file, long size, String sha256) {}

  /** A row the peer acknowledged and that is deleted now: its app, id, kind and snapshot file (or null). */
  record Done(String app, String id, String kind, String file) {}

  /** One outstanding row of an app, for its listing. */
  record Row(long seq, String id, String kind, String payload, long size, long createdAt) {}

  /** Visits outstanding rows in order; false stops. */
  @FunctionalInterface
  interface RowVisitor {
    boolean visit(Row row);
  }

  /**
   * Inserts queued transfers in one transaction on the writer's connection ({@link GroupWriter}); a complication is
   * logged at {@code nowMillis} and the app's complications older than a day are forgotten.
   */
  List<Long> insert(Connection conn, List<Outgoing> items, long nowMillis) throws SQLException {
    List<Long> seqs = new ArrayList<>(items.size());
    long now = System.currentTimeMillis();
    PreparedStatement s = statements.get(conn, "INSERT INTO cx_outbox(id, peer, app, kind, payload, file, size, sha256, created_at) "
        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (Outgoing o : items) {
      s.setString(1, o.id());
      s.setString(2, o.peer());
      s.setString(3, o.app());
      s.setString(4, o.kind());
      s.setString(5, o.payload());
      s.setString(6, o.file());
      s.setLong(7, o.size());
      s.setString(8, o.sha256());
      s.setLong(9, now);
      s.executeUpdate();
      seqs.add(0L);
      if (o.kind().equals("complication")) {
        PreparedStatement log = statements.get(conn, "INSERT INTO cx_complications(app, at) VALUES (?, ?)");
        log.setString(1, o.app());
        log.setLong(2, nowMillis);
        log.executeUpdate();
        // only the last day counts (ComplicationQuota): older entries go
        PreparedStatement forget = statements.get(conn, "DELETE FROM cx_complications WHERE app = ? AND at <= ?");
        forget.setString(1, o.app());
        forget.setLong(2, ComplicationQuota.forgetUpTo(nowMillis));
        forget.executeUpdate();
      }
    }
    return seqs;
  }

  /** How many complications the app sent after {@code sinceMillis}. */
  int complicationsAfter(String app, long sinceMillis) {
    return store.read(conn -> {
      PreparedStatement s = statements.get(conn, "SELECT count(*) FROM cx_complications WHERE app = ? AND at > ?");
      s.setString(1, app);
      s.setLong(2, sinceMillis);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? rs.getInt(1) : 0;
      }
    });
  }

  /** Visits the app's outstanding rows after sequence number {@code after}, in order. */
  void outstanding(String app, long after, RowVisitor visitor) {
    store.read(conn -> {
      PreparedStatement s = statements.get(conn, "SELECT id, kind, payload, size, created_at, seq FROM cx_outbox WHERE app = ? AND seq > ? ORDER BY seq");
      s.setString(1, app);
      s.setLong(2, after);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          if (!visitor.visit(new Row(rs.getLong(6), rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getLong(5)))) {
            break;
          }
        }
      }
      return null;
    });
  }

  /** Deletes the app's outstanding transfer {@code id}; completes with its snapshot file (or null), else UNKNOWN_TRANSFER. */
  CompletableFuture<String> cancel(String app, String id) {
    return store.write(conn -> {
      String file;
      PreparedStatement q = statements.get(conn, "SELECT file FROM cx_outbox WHERE id = ? AND app = ?");
      q.setString(1, id);
      q.setString(2, app);
      try (ResultSet rs = q.executeQuery()) {
        if (!rs.next()) {
          throw new TetherException(ErrorCode.UNKNOWN_TRANSFER, "no outstanding transfer " + id + " of " + app
              + " (it may have finished already)");
        }
        file = rs.getString(1);
      }
      PreparedStatement del = statements.get(conn, "DELETE FROM cx_outbox WHERE id = ? AND app = ?");
      del.setString(1, id);
      del.setString(2, app);
      del.executeUpdate();
      return file;
    });
  }

  /** Deletes the row {@code id} and waits for the commit (a capture that failed half-way). */
  void deleteAndWait(String id) {
    store.writeAndWait(conn -> {
      PreparedStatement s = statements.get(conn, "DELETE FROM cx_outbox WHERE id = ?");
      s.setString(1, id);
      s.executeUpdate();
      return null;
    });
  }

  /** Deletes the rows the peer acknowledged; completes with what was deleted. */
  CompletableFuture<List<Done>> acknowledged(List<Long> seqs) {
    return store.write(conn -> {
      List<Done> done = new ArrayList<>();
      for (int from = 0; from < seqs.size(); from += 500) {
        List<Long> part = seqs.subList(from, Math.min(seqs.size(), from + 500));
        String marks = String.join(",", Collections.nCopies(part.size(), "?"));
        // the number of marks varies: prepared each time rather than cached
        try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_outbox WHERE seq IN (" + marks + ") RETURNING app, id, kind, file")) {
          for (int i = 0; i < part.size(); i++) {
            del.setLong(i + 1, part.get(i));
          }
          try (ResultSet rs = del.executeQuery()) {
            while (rs.next()) {
              done.add(new Done(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
            }
          }
        }
      }
      return done;
    });
  }

  /**
   * The lowest sequence number still queued for {@code peer}; with nothing queued, the next one to be assigned
   * (sequence numbers only grow, {@code AUTOINCREMENT}).
   */
  long low(String peer) {
    return store.read(conn -> {
      PreparedStatement q = statements.get(conn, "SELECT min(seq) FROM cx_outbox WHERE peer = ?");
      q.setString(1, peer);
      try (ResultSet rs = q.executeQuery()) {
        if (rs.next() && rs.getObject(1) != null) {
          return rs.getLong(1);
        }
      }
      PreparedStatement next = statements.get(conn, "SELECT seq FROM sqlite_sequence WHERE name = 'cx_outbox'");
      try (ResultSet rs = next.executeQuery()) {
        return rs.next() ? rs.getLong(1) + 1 : 1L;
      }
    });
  }

  /**
   * The next page of user info queued for {@code peer} after sequence number {@code from}: complication user info only,
   * or all user info; each an {@code items} entry with its payload raw and a {@code size} estimate to remove.
   */
  List<ObjectNode> itemsAfter(String peer, long from, boolean complications, int limit) {
    return store.read(conn -> {
      List<ObjectNode> list = new ArrayList<>();
      PreparedStatement s = statements.get(conn, complications ? ITEMS_COMPLICATIONS : ITEMS_ALL);
      s.setString(1, peer);
      s.setLong(2, from);
      s.setInt(3, limit);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          ObjectNode o = Json.object();
          o.put("seq", rs.getLong(1));
          o.put("id", rs.getString(2));
          o.put("app", rs.getString(3));
          o.put("kind", rs.getString(4));
          String text = rs.getString(5);
          o.set("payload", Json.raw(text));
          o.put("size", text.length() + 200);
          list.add(o);
        }
      }
      return list;
    });
  }

  private static final String ITEMS_COMPLICATIONS = "SELECT seq, id, app, kind, payload FROM cx_outbox WHERE peer = ? AND seq > ? AND "
      + "kind = 'complication' ORDER BY seq LIMIT ?";
  private static final String ITEMS_ALL = "SELECT seq, id, app, kind, payload FROM cx_outbox WHERE peer = ? AND seq > ? AND "
      + "kind IN ('userinfo', 'complication') ORDER BY seq LIMIT ?";

  /** The next file queued for {@code peer} after sequence number {@code after}, or null. */
  ObjectNode nextFile(String peer, long after) {
    return store.read(conn -> {
      PreparedStatement s = statements.get(conn, "SELECT seq, id, app, payload, file, size, sha256 FROM cx_outbox "
          + "WHERE peer = ? AND kind = 'file' AND seq > ? ORDER BY seq LIMIT 1");
      s.setString(1, peer);
      s.setLong(2, after);
      try (ResultSet rs = s.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        ObjectNode o = Json.object();
        o.put("seq", rs.getLong(1));
        o.put("id", rs.getString(2));
        o.put("app", rs.getString(3));
        o.set("meta", Json.parse(rs.getString(4)));
        o.put("file", rs.getString(5));
        o.put("size", rs.getLong(6));
        o.put("sha256", rs.getString(7));
        return o;
      }
    });
  }
}
