package dev.tether.daemon.internal.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Used by a store class ({@code TransferStore}, {@code TaskStore}) on whichever thread holds a store connection (see
 * below): that store class's prepared statements (each holds its own cache), kept per store connection and reused:
 * sqlite-jdbc compiles the SQL and reads every result column's name through JNI each time a statement is prepared
 * (about 100 µs for a row of {@code transfers}, against 20 µs to run it again), and a small download runs about
 * twenty statements.
 *
 * <p>A store connection is used by one thread at a time (the writer thread, or the reader that leased it from the pool,
 * which hands it over with a happens-before edge), so each connection's own map needs no lock. Callers bind every
 * parameter before each use, close the result sets they open (which resets the statement), and never close a statement
 * they got from here; closing the connection finalizes its statements.
 */
public final class StatementCache {
  private final Map<Connection, Map<String, PreparedStatement>> byConnection = new ConcurrentHashMap<>();

  /** The statement for {@code sql} on {@code c}, prepared on first use. {@code sql} must be a constant. */
  public PreparedStatement get(Connection c, String sql) throws SQLException {
    Map<String, PreparedStatement> statements = byConnection.computeIfAbsent(c, k -> new HashMap<>());
    PreparedStatement p = statements.get(sql);
    if (p == null || p.isClosed()) {
      p = c.prepareStatement(sql);
      statements.put(sql, p);
    }
    return p;
  }

  /** Forgets every statement (the store closes them with its connections). */
  public void clear() {
    byConnection.clear();
  }
}
