package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any thread calls it: inserts and deletes run on the store's writer thread, reads on a pooled reader. All SQL on
 * {@code cx_inbox} and {@code cx_seen}: received items stored with their ids, read in order for delivery, deleted on
 * the app's acknowledgement.
 */
final class InboxStore {
  private static final Logger log = LoggerFactory.getLogger(InboxStore.class);

  private final Store store;
  private final StatementCache statements = new StatementCache();

  InboxStore(Store store) {
    this.store = store;
  }

  /**
   * Stores received items in one transaction on the writer's connection ({@link GroupWriter}): true for a new one,
   * false for one seen before (or a {@code forget-seen} marker, which forgets the ids of its peer below its sequence
   * number), null for user info from a peer {@code refusing} says is refused now.
   */
  List<Boolean> insert(Connection conn, List<Inbox.Incoming> items, Predicate<String> refusing) throws SQLException {
    List<Boolean> fresh = new ArrayList<>(items.size());
    long now = System.currentTimeMillis();
    PreparedStatement seen = statements.get(conn, "INSERT OR IGNORE INTO cx_seen(id, peer, peer_seq) VALUES (?, ?, ?)");
    PreparedStatement ins = statements.get(conn, "INSERT INTO cx_inbox(id, peer, app, kind, payload, file, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (Inbox.Incoming i : items) {
      if (i.kind().equals(Inbox.FORGET_SEEN)) {
        PreparedStatement del = statements.get(conn, "DELETE FROM cx_seen WHERE peer = ? AND peer_seq < ?");
        del.setString(1, i.peer());
        del.setLong(2, i.peerSeq());
        int n = del.executeUpdate();
        if (n > 0) {
          log.debug("forgot {} ids seen from peer {} below its sequence number {}", n, i.peer(), i.peerSeq());
        }
        fresh.add(false);
        continue;
      }
      if (!i.kind().equals("file") && refusing.test(i.peer())) {
        fresh.add(null);
        continue;
      }
      seen.setString(1, i.id());
      seen.setString(2, i.peer());
      seen.setLong(3, i.peerSeq());
      if (seen.executeUpdate() == 0) {
        fresh.add(false);
        continue;
      }
      ins.setString(1, i.id());
      ins.setString(2, i.peer());
      ins.setString(3, i.app());
      ins.setString(4, i.kind());
      ins.setString(5, i.payload());
      ins.setString(6, i.file());
      ins.setLong(7, now);
      ins.executeUpdate();
      fresh.add(true);
    }
    return fresh;
  }

  /**
   * The app's next rows after {@code after}, at most {@code limit}, as {@code cx.deliveries} items (each with a
   * {@code size_} estimate to remove).
   */
  List<ObjectNode> page(String app, long after, int limit) {
    return store.read(conn -> {
      List<ObjectNode> list = new ArrayList<>();
      PreparedStatement s = statements.get(conn, "SELECT seq, id, kind, payload, file FROM cx_inbox WHERE app = ? AND seq > ? ORDER BY seq LIMIT ?");
      s.setString(1, app);
      s.setLong(2, after);
      s.setInt(3, limit);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          ObjectNode o = Json.object();
          o.put("seq", rs.getLong(1));
          o.put("id", rs.getString(2));
          String kind = rs.getString(3);
          o.put("size_", rs.getString(4).length() + 200);
          JsonNode raw = Json.raw(rs.getString(4));
          switch (kind) {
            case "complication" -> {
              o.put("kind", "userInfo");
              o.put("complication", true);
              o.set("payload", raw);
            }
            case "userinfo" -> {
              o.put("kind", "userInfo");
              o.set("payload", raw);
            }
            case "context" -> {
              o.put("kind", "applicationContext");
              o.set("payload", raw);
            }
            default -> {
              JsonNode payload = Json.parse(rs.getString(4));
              o.put("kind", "file");
              o.put("file", rs.getString(5));
              if (payload.has("metadata")) {
                o.set("metadata", payload.get("metadata"));
              }
              o.put("size", payload.path("size").asLong());
              o.put("sha256", payload.path("sha256").asText());
            }
          }
          list.add(o);
        }
      }
      return list;
    });
  }

  /** Whether an item or file with this id was stored before. */
  boolean seen(String id) {
    return exists("SELECT 1 FROM cx_seen WHERE id = ?", id);
  }

  /** Whether inbox row {@code seq} is still there. */
  boolean exists(long seq) {
    return exists("SELECT 1 FROM cx_inbox WHERE seq = ?", seq);
  }

  /** Whether anything waits in the app's inbox. */
  boolean anyPending(String app) {
    return exists("SELECT 1 FROM cx_inbox WHERE app = ? LIMIT 1", app);
  }

  private boolean exists(String sql, Object arg) {
    return store.read(conn -> {
      PreparedStatement p = statements.get(conn, sql);
      p.setObject(1, arg);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next();
      }
    });
  }

  /** Deletes the app's rows {@code seqs} (only its own) on the writer's connection; adds their files to {@code files}. */
  void delete(Connection conn, String app, long[] seqs, List<String> files) throws SQLException {
    for (int from = 0; from < seqs.length; from += 500) {
      int to = Math.min(seqs.length, from + 500);
      String marks = String.join(",", Collections.nCopies(to - from, "?"));
      // the number of marks varies: prepared each time rather than cached
      try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_inbox WHERE app = ? AND seq IN (" + marks + ") RETURNING file")) {
        del.setString(1, app);
        for (int i = from; i < to; i++) {
          del.setLong(i - from + 2, seqs[i]);
        }
        try (ResultSet rs = del.executeQuery()) {
          while (rs.next()) {
            if (rs.getString(1) != null) {
              files.add(rs.getString(1));
            }
          }
        }
      }
    }
  }
}
