package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Json;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/** Immutable, so any thread may use it: one row of {@code transfers}, as read. */
record TransferRow(long id, String appId, String session, String kind, String url, String method, Map<String, String> headers,
    String description, Long earliestBegin, long expectedBytes, long totalBytes, long bytesDone, String state, String phase,
    String etag, String lastModified, boolean acceptRanges, String destination, String tempFile, String uploadFile,
    int status, String errorCode, String errorMessage, int attempts, long nextAttemptAt, long createdAt, long deadline,
    String credential, int challengeCount, String uploadResource) {

  static final String RUNNING = "RUNNING";
  static final String SUSPENDED = "SUSPENDED";
  static final String COMPLETED = "COMPLETED";
  /** Phase of a RUNNING transfer: may run (subject to begin date, back-off and conditions). */
  static final String READY = "ready";
  /** Phase of a RUNNING transfer: an authentication challenge waits for the app's answer. */
  static final String CHALLENGE = "challenge";

  static final String COLUMNS = "id, app_id, session, kind, url, method, headers, description, earliest_begin, expected_bytes,"
      + " total_bytes, bytes_done, state, phase, etag, last_modified, accept_ranges, destination, temp_file, upload_file,"
      + " status, error_code, error_message, attempts, next_attempt_at, created_at, deadline, credential, challenge_count,"
      + " upload_resource";

  /** The row at the cursor of a query that selected {@link #COLUMNS} first, read by position (no name lookups). */
  static TransferRow from(ResultSet rs) throws SQLException {
    Map<String, String> headers = new LinkedHashMap<>();
    String h = rs.getString(7);
    if (h != null && !h.equals("{}")) {
      Json.parseObject(h).fields().forEachRemaining(e -> headers.put(e.getKey(), e.getValue().asText()));
    }
    long eb = rs.getLong(9);
    Long earliest = rs.wasNull() ? null : eb;
    return new TransferRow(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
        rs.getString(5), rs.getString(6), Map.copyOf(headers), rs.getString(8), earliest,
        rs.getLong(10), rs.getLong(11), rs.getLong(12), rs.getString(13),
        rs.getString(14), rs.getString(15), rs.getString(16), rs.getInt(17) != 0,
        rs.getString(18), rs.getString(19), rs.getString(20), rs.getInt(21),
        rs.getString(22), rs.getString(23), rs.getInt(24), rs.getLong(25),
        rs.getLong(26), rs.getLong(27), rs.getString(28), rs.getInt(29), rs.getString(30));
  }

  /** This row once a download's whole body of {@code bytes} is in place (still running: its completion comes next). */
  TransferRow withBody(long bytes) {
    return new TransferRow(id, appId, session, kind, url, method, headers, description, earliestBegin, expectedBytes,
        bytes, bytes, state, phase, etag, lastModified, acceptRanges, destination, tempFile, uploadFile, status, errorCode,
        errorMessage, attempts, nextAttemptAt, createdAt, deadline, credential, challengeCount, uploadResource);
  }

  /**
   * This row completed without an error, as {@code UPDATE ... SET state = 'COMPLETED', phase = 'ready', error_code =
   * NULL, error_message = NULL, status (when {@code status > 0}), bytes_done (when {@code bytes >= 0}), credential =
   * NULL} leaves it.
   */
  TransferRow completedOk(int newStatus, long bytes) {
    return new TransferRow(id, appId, session, kind, url, method, headers, description, earliestBegin, expectedBytes,
        totalBytes, bytes >= 0 ? bytes : bytesDone, COMPLETED, READY, etag, lastModified, acceptRanges, destination, tempFile,
        uploadFile, newStatus > 0 ? newStatus : status, null, null, attempts, nextAttemptAt, createdAt, deadline, null,
        challengeCount, uploadResource);
  }

  boolean isDownload() {
    return "download".equals(kind);
  }

  /** The JSON the client and CLI see; {@code liveBytes} overrides the stored count while the transfer runs. */
  ObjectNode toJson(long liveBytes, String waitingFor) {
    ObjectNode o = Json.object();
    o.put("id", id);
    o.put("app", appId);
    o.put("session", session);
    o.put("kind", kind);
    o.put("url", url);
    o.put("method", method);
    if (description != null) {
      o.put("description", description);
    }
    o.put("state", state);
    o.put("bytesDone", liveBytes >= 0 ? liveBytes : bytesDone);
    o.put("bytesExpected", totalBytes >= 0 ? totalBytes : expectedBytes);
    if (status > 0) {
      o.put("status", status);
    }
    if (earliestBegin != null) {
      o.put("earliestBeginDate", Instant.ofEpochMilli(earliestBegin).toString());
    }
    if (destination != null) {
      o.put("destination", destination);
    }
    if (uploadFile != null) {
      o.put("file", uploadFile);
    }
    o.put("createdAt", Instant.ofEpochMilli(createdAt).toString());
    if (errorCode != null) {
      ObjectNode e = o.putObject("error");
      e.put("code", errorCode);
      e.put("message", errorMessage);
    }
    if (waitingFor != null) {
      o.put("waitingFor", waitingFor);
    }
    o.put("attempts", attempts);
    return o;
  }
}
