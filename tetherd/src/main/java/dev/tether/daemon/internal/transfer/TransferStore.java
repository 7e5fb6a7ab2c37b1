package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.daemon.internal.store.StatementCache;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.store.SqlWork;
import dev.tether.protocol.Json;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Any thread may call it; reads run on the caller's thread with a pooled connection, writes on the store's writer
 * (methods ending in {@code Tx} run inside the caller's transaction). Holds all SQL on {@code transfers},
 * {@code transfer_sessions}, {@code transfer_events} and {@code transfer_conditions}, through the prepared-statement
 * cache ({@link StatementCache}).
 */
final class TransferStore {
  private final Store store;
  private final StatementCache statements = new StatementCache();

  TransferStore(Store store) {
    this.store = store;
  }

  /** A read with the store's pooled connections. */
  <T> T read(SqlWork<T> work) {
    return store.read(work);
  }

  /** A write on the store's writer, committed (possibly with others) before the future completes. */
  <T> CompletableFuture<T> write(SqlWork<T> work) {
    return store.write(work);
  }

  // ------------------------------------------------------------------------------------------------ transfers

  TransferRow load(long id) {
    return store.read(c -> loadTx(c, id));
  }

  TransferRow loadTx(Connection c, long id) throws SQLException {
    PreparedStatement p = statements.get(c, "SELECT " + TransferRow.COLUMNS + " FROM transfers WHERE id = ?");
    p.setLong(1, id);
    try (ResultSet rs = p.executeQuery()) {
      return rs.next() ? TransferRow.from(rs) : null;
    }
  }

  /** The transfer's state alone (null when there is no such transfer): cheaper than its whole row. */
  String state(long id) {
    return store.read(c -> {
      PreparedStatement p = statements.get(c, "SELECT state FROM transfers WHERE id = ?");
      p.setLong(1, id);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    });
  }

  /** Inserts a prepared transfer (in the caller's write) and returns its id; a download gets its part file's name. */
  long insertTx(Connection c, NewTransfer n) throws SQLException {
    SessionKey key = n.key();
    String kind = n.kind();
    ResumeData resume = n.resume();
    long id;
    PreparedStatement p = statements.get(c, "INSERT INTO transfers(app_id, session, kind, url, method, headers,"
        + " description, earliest_begin, expected_bytes, state, destination, upload_file, created_at, deadline, etag,"
        + " last_modified, accept_ranges, total_bytes) VALUES (?,?,?,?,?,?,?,?,?,'RUNNING',?,?,?,?,?,?,?,?)");
    p.setString(1, key.app());
    p.setString(2, key.id());
    p.setString(3, kind);
    p.setString(4, n.url());
    p.setString(5, n.method());
    p.setString(6, Json.write(n.headers()));
    p.setString(7, n.description());
    if (n.notBefore() == null) {
      p.setNull(8, java.sql.Types.INTEGER);
    } else {
      p.setLong(8, n.notBefore());
    }
    p.setLong(9, n.expected());
    p.setString(10, n.destination());
    p.setString(11, n.uploadFile());
    p.setLong(12, n.now());
    p.setLong(13, n.deadline());
    p.setString(14, resume == null ? null : resume.etag);
    p.setString(15, resume == null ? null : resume.lastModified);
    p.setInt(16, resume == null ? 0 : 1);
    p.setLong(17, resume == null ? -1 : resume.total);
    p.executeUpdate();
    try (ResultSet rs = statements.get(c, "SELECT last_insert_rowid()").executeQuery()) {
      rs.next();
      id = rs.getLong(1);
    }
    PreparedStatement named = statements.get(c, "UPDATE transfers SET temp_file = ?, bytes_done = ? WHERE id = ?");
    named.setString(1, kind.equals("download") ? partName(id) : null);
    named.setLong(2, resume == null ? 0 : resume.bytes);
    named.setLong(3, id);
    named.executeUpdate();
    return id;
  }

  /** The name of download {@code id}'s part file in the transfers folder. */
  static String partName(long id) {
    return "transfer-" + id + ".part";
  }

  /** The rows with ids from {@code min} to {@code max}, in the caller's transaction (just inserted ones, in one query). */
  List<TransferRow> rowsBetweenTx(Connection c, long min, long max) throws SQLException {
    PreparedStatement p = statements.get(c, "SELECT " + TransferRow.COLUMNS + " FROM transfers WHERE id BETWEEN ? AND ?");
    p.setLong(1, min);
    p.setLong(2, max);
    return rows(p);
  }

  /** Every app's transfers ({@code all}) or {@code app}'s, of {@code session} when not null, by id. */
  List<TransferRow> list(boolean all, String app, String session) {
    return store.read(c -> {
      String sql = "SELECT " + TransferRow.COLUMNS + " FROM transfers WHERE (? OR app_id = ?) AND (? IS NULL OR session = ?) ORDER BY id";
      try (PreparedStatement p = c.prepareStatement(sql)) {
        p.setBoolean(1, all);
        p.setString(2, app);
        p.setString(3, session);
        p.setString(4, session);
        return rows(p);
      }
    });
  }

  /** The ids of every running transfer (to resume at start), by id. */
  List<Long> runningIds() {
    return store.read(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT id FROM transfers WHERE state = 'RUNNING' ORDER BY id")) {
        return ids(p);
      }
    });
  }

  /** The ids of the session's transfers that have not completed. */
  List<Long> unfinished(SessionKey key) {
    return store.read(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT id FROM transfers WHERE app_id = ? AND session = ? AND state != 'COMPLETED'")) {
        p.setString(1, key.app());
        p.setString(2, key.id());
        return ids(p);
      }
    });
  }

  /** The ids of the app's transfers that have not completed. */
  List<Long> unfinishedOfApp(String appId) {
    return store.read(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT id FROM transfers WHERE app_id = ? AND state != 'COMPLETED'")) {
        p.setString(1, appId);
        return ids(p);
      }
    });
  }

  /** Whether the session has a running transfer. */
  boolean anyRunning(SessionKey key) {
    return store.read(c -> count(c, "SELECT EXISTS (SELECT 1 FROM transfers WHERE app_id = ? AND session = ? AND state = 'RUNNING')", key) > 0);
  }

  /** Whether the session has neither a stored event nor a running transfer. */
  boolean idle(SessionKey key) {
    return store.read(c -> count(c, "SELECT count(*) FROM transfer_events WHERE app_id = ? AND session = ?", key) == 0
        && count(c, "SELECT count(*) FROM transfers WHERE app_id = ? AND session = ? AND state = 'RUNNING'", key) == 0);
  }

  CompletableFuture<Integer> suspend(long id, long bytes) {
    return store.write(c -> update(c, "UPDATE transfers SET state = 'SUSPENDED', bytes_done = ? WHERE id = ? AND state = 'RUNNING'",
        bytes, id));
  }

  CompletableFuture<Integer> resume(long id) {
    return store.write(c -> update(c, "UPDATE transfers SET state = 'RUNNING', next_attempt_at = 0 WHERE id = ? AND state = 'SUSPENDED'",
        id));
  }

  /** The app answered a challenge with a credential: the transfer may run again at once. */
  void useCredentialTx(Connection c, long id, String credential) throws SQLException {
    update(c, "UPDATE transfers SET phase = 'ready', credential = ?, next_attempt_at = 0 WHERE id = ?", credential, id);
  }

  /** Gives a running transfer back its count of failed attempts and drops its back-off (the network went away). */
  CompletableFuture<Integer> forgive(long id, int attempts) {
    return store.write(c -> update(c, "UPDATE transfers SET attempts = ?, next_attempt_at = 0"
        + " WHERE id = ? AND state = 'RUNNING'", attempts, id));
  }

  /** Records what a running transfer has moved so far (what it shows while it waits). */
  CompletableFuture<Integer> recordBytes(long id, long bytes) {
    return store.write(c -> update(c, "UPDATE transfers SET bytes_done = ? WHERE id = ? AND state = 'RUNNING'", bytes, id));
  }

  CompletableFuture<Integer> setUploadResource(long id, String resource) {
    return store.write(c -> update(c, "UPDATE transfers SET upload_resource = ? WHERE id = ?", resource, id));
  }

  CompletableFuture<Integer> setValidators(long id, String etag, String lastModified, boolean acceptRanges, long total, int status) {
    return store.write(c -> update(c, "UPDATE transfers SET etag = ?, last_modified = ?, accept_ranges = ?,"
        + " total_bytes = ?, status = ? WHERE id = ?", etag, lastModified, acceptRanges ? 1 : 0, total, status, id));
  }

  /** An attempt failed because the network went away: no failed attempt, no back-off. */
  CompletableFuture<Integer> waitForNetwork(long id, String reason) {
    return store.write(c -> update(c, "UPDATE transfers SET next_attempt_at = 0, error_message = ?"
        + " WHERE id = ? AND state = 'RUNNING'", reason, id));
  }

  /** A failed attempt counted: the next one at {@code next}. */
  CompletableFuture<Integer> retryLater(long id, int attempts, long next, String reason) {
    return store.write(c -> update(c, "UPDATE transfers SET attempts = ?, next_attempt_at = ?, error_message = ?"
        + " WHERE id = ? AND state = 'RUNNING'", attempts, next, reason, id));
  }

  /** The transfer waits for the app's answer to an authentication challenge. */
  void challengeTx(Connection c, long id, int status) throws SQLException {
    update(c, "UPDATE transfers SET phase = 'challenge', status = ?, challenge_count = challenge_count + 1 WHERE id = ?", status, id);
  }

  /** Marks a finished download completed without an error, its whole body of {@code bytes} in place. */
  void completeDownloadTx(Connection c, long id, long bytes, int status, long now) throws SQLException {
    update(c, "UPDATE transfers SET bytes_done = ?, total_bytes = ?, state = 'COMPLETED', phase = 'ready',"
        + " error_code = NULL, error_message = NULL, status = CASE WHEN ? > 0 THEN ? ELSE status END, completed_at = ?,"
        + " credential = NULL WHERE id = ?", bytes, bytes, status, status, now, id);
  }

  /** Marks a transfer completed, with {@code code} when it failed; {@code status} and {@code bytes} when known. */
  void completeTx(Connection c, long id, ErrorCode code, String message, int status, long bytes, long now) throws SQLException {
    update(c, "UPDATE transfers SET state = 'COMPLETED', phase = 'ready', error_code = ?, error_message = ?,"
        + " status = CASE WHEN ? > 0 THEN ? ELSE status END, bytes_done = CASE WHEN ? >= 0 THEN ? ELSE bytes_done END,"
        + " completed_at = ?, credential = NULL WHERE id = ?",
        code == null ? null : code.name(), message, status, status, bytes, bytes, now, id);
  }

  /** Forgets transfers completed before {@code cutoff} that no unacknowledged event refers to; how many. */
  CompletableFuture<Integer> prune(long cutoff) {
    return store.write(c -> update(c, "DELETE FROM transfers WHERE state = 'COMPLETED' AND completed_at < ? AND id NOT IN"
        + " (SELECT transfer_id FROM transfer_events WHERE transfer_id IS NOT NULL)", cutoff));
  }

  /** The names of files in the transfers folder that something still needs (part files, delivered files, finished downloads). */
  Set<String> filesToKeep() {
    return store.read(c -> {
      Set<String> s = new HashSet<>();
      try (PreparedStatement p = c.prepareStatement("SELECT temp_file FROM transfers WHERE state != 'COMPLETED' AND temp_file IS NOT NULL");
           ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          s.add(rs.getString(1));
        }
      }
      try (PreparedStatement p = c.prepareStatement("SELECT file FROM transfer_events WHERE file IS NOT NULL"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          s.add(Path.of(rs.getString(1)).getFileName().toString());
        }
      }
      try (PreparedStatement p = c.prepareStatement("SELECT id FROM transfers WHERE state = 'RUNNING' AND kind = 'download'"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          s.add("transfer-" + rs.getLong(1) + ".download");
        }
      }
      return s;
    });
  }

  // ------------------------------------------------------------------------------------------------ sessions

  /** Creates the session, or replaces its configuration. */
  CompletableFuture<Void> saveSession(SessionKey key, SessionConfig cfg, long now) {
    return store.write(c -> {
      try (PreparedStatement p = c.prepareStatement("INSERT INTO transfer_sessions(app_id, identifier, config, created_at)"
          + " VALUES (?, ?, ?, ?) ON CONFLICT(app_id, identifier) DO UPDATE SET config = excluded.config")) {
        p.setString(1, key.app());
        p.setString(2, key.id());
        p.setString(3, Json.write(cfg.toJson()));
        p.setLong(4, now);
        p.executeUpdate();
      }
      return null;
    });
  }

  /** The session's stored configuration, or null when there is no such session. */
  SessionConfig sessionConfig(SessionKey key) {
    return store.read(c -> {
      PreparedStatement p = statements.get(c, "SELECT config FROM transfer_sessions WHERE app_id = ? AND identifier = ?");
      p.setString(1, key.app());
      p.setString(2, key.id());
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? SessionConfig.fromJson(Json.parse(rs.getString(1))) : null;
      }
    });
  }

  // ------------------------------------------------------------------------------------------------ events

  /** An event to store: its type, the transfer it is about (if any), its body and the file it hands over (if any). */
  record NewEvent(String type, Long transferId, ObjectNode body, String file) {}

  /** What the acknowledgement of one event needs of it: its type, file, transfer, challenge body and whether its file was moved. */
  record AckedEvent(String type, String file, long transferId, String challenge, boolean moved) {}

  /** Stores {@code events} with the session's next sequence numbers, in order (one read and one update of the session). */
  void addEventsTx(Connection c, SessionKey key, long now, NewEvent... events) throws SQLException {
    long seq;
    PreparedStatement p = statements.get(c, "SELECT next_seq FROM transfer_sessions WHERE app_id = ? AND identifier = ?");
    p.setString(1, key.app());
    p.setString(2, key.id());
    try (ResultSet rs = p.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("no session " + key);
      }
      seq = rs.getLong(1);
    }
    update(c, "UPDATE transfer_sessions SET next_seq = ?, last_event_type = ? WHERE app_id = ? AND identifier = ?",
        seq + events.length, events[events.length - 1].type(), key.app(), key.id());
    PreparedStatement insert = statements.get(c, "INSERT INTO transfer_events(app_id, session, seq, type, transfer_id, body,"
        + " file, created_at) VALUES (?,?,?,?,?,?,?,?)");
    for (NewEvent e : events) {
      insert.setString(1, key.app());
      insert.setString(2, key.id());
      insert.setLong(3, seq++);
      insert.setString(4, e.type());
      if (e.transferId() == null) {
        insert.setNull(5, java.sql.Types.INTEGER);
      } else {
        insert.setLong(5, e.transferId());
      }
      insert.setString(6, Json.write(e.body()));
      insert.setString(7, e.file());
      insert.setLong(8, now);
      insert.executeUpdate();
    }
  }

  /** Removes one acknowledged event and returns what the acknowledgement needs of it; null when it was gone already. */
  AckedEvent deleteEventTx(Connection c, SessionKey key, long seq) throws SQLException {
    // one statement: the row goes and what the acknowledgement needs of it comes back (SQLite reads "moved" itself)
    PreparedStatement p = statements.get(c, "DELETE FROM transfer_events WHERE app_id = ? AND session = ? AND seq = ?"
        + " RETURNING type, file, transfer_id, CASE WHEN type = 'challenge' THEN body END,"
        + " CASE WHEN type = 'downloadFinished' THEN json_extract(body, '$.moved') END");
    p.setString(1, key.app());
    p.setString(2, key.id());
    p.setLong(3, seq);
    try (ResultSet rs = p.executeQuery()) {
      if (!rs.next()) {
        return null;
      }
      return new AckedEvent(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4), rs.getInt(5) == 1);
    }
  }

  /**
   * Whether the session is drained and owes its app {@code eventsFinished}: no stored event, no running transfer, and
   * its last event was another one.
   */
  boolean owesEventsFinishedTx(Connection c, SessionKey key) throws SQLException {
    if (count(c, "SELECT EXISTS (SELECT 1 FROM transfer_events WHERE app_id = ? AND session = ?)", key) > 0
        || count(c, "SELECT EXISTS (SELECT 1 FROM transfers WHERE app_id = ? AND session = ? AND state = 'RUNNING')", key) > 0) {
      return false;
    }
    PreparedStatement p = statements.get(c, "SELECT last_event_type FROM transfer_sessions WHERE app_id = ? AND identifier = ?");
    p.setString(1, key.app());
    p.setString(2, key.id());
    try (ResultSet rs = p.executeQuery()) {
      return rs.next() && rs.getString(1) != null && !"eventsFinished".equals(rs.getString(1));
    }
  }

  /** Sees one stored event; returns false to stop reading. */
  @FunctionalInterface
  interface EventVisitor {
    boolean visit(long seq, String type, String body);
  }

  /** Reads the session's events after {@code after}, in order, at most {@code limit}, until {@code visitor} stops. */
  void readEvents(SessionKey key, long after, int limit, EventVisitor visitor) {
    store.read(c -> {
      PreparedStatement p = statements.get(c, "SELECT seq, type, body, file FROM transfer_events"
          + " WHERE app_id = ? AND session = ? AND seq > ? ORDER BY seq LIMIT " + limit);
      p.setString(1, key.app());
      p.setString(2, key.id());
      p.setLong(3, after);
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          if (!visitor.visit(rs.getLong(1), rs.getString(2), rs.getString(3))) {
            break;
          }
        }
      }
      return null;
    });
  }

  /** The sessions that have stored events (to wake their apps at start). */
  List<SessionKey> sessionsWithEvents() {
    return store.read(c -> {
      List<SessionKey> out = new ArrayList<>();
      try (PreparedStatement p = c.prepareStatement("SELECT DISTINCT app_id, session FROM transfer_events"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          out.add(new SessionKey(rs.getString(1), rs.getString(2)));
        }
      }
      return out;
    });
  }

  // ------------------------------------------------------------------------------------------------ conditions

  /** The stored overrides of device conditions, by name ({@code power}, {@code network}). */
  Map<String, String> conditions() {
    return store.read(c -> {
      Map<String, String> out = new HashMap<>();
      try (PreparedStatement p = c.prepareStatement("SELECT name, value FROM transfer_conditions"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getString(2));
        }
      }
      return out;
    });
  }

  /** Stores the overrides given (null: unchanged). */
  CompletableFuture<Void> saveConditions(String power, String network) {
    return store.write(c -> {
      if (power != null) {
        update(c, "INSERT INTO transfer_conditions(name, value) VALUES ('power', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", power);
      }
      if (network != null) {
        update(c, "INSERT INTO transfer_conditions(name, value) VALUES ('network', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", network);
      }
      return null;
    });
  }

  // ------------------------------------------------------------------------------------------------ helpers

  private static List<TransferRow> rows(PreparedStatement p) throws SQLException {
    List<TransferRow> out = new ArrayList<>();
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(TransferRow.from(rs));
      }
    }
    return out;
  }

  private static List<Long> ids(PreparedStatement p) throws SQLException {
    List<Long> out = new ArrayList<>();
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(rs.getLong(1));
      }
    }
    return out;
  }

  /** Runs a constant query with the session's app and identifier as its two parameters; its first column. */
  private long count(Connection c, String sql, SessionKey key) throws SQLException {
    PreparedStatement p = statements.get(c, sql);
    p.setString(1, key.app());
    p.setString(2, key.id());
    try (ResultSet rs = p.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** Runs a constant statement with {@code args} as its parameters, in order. */
  private int update(Connection c, String sql, Object... args) throws SQLException {
    PreparedStatement p = statements.get(c, sql);
    for (int i = 0; i < args.length; i++) {
      p.setObject(i + 1, args[i]);
    }
    return p.executeUpdate();
  }
}
