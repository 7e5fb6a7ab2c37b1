package dev.tether.daemon.internal.store;

import java.sql.Connection;
import java.sql.SQLException;

/** Work done with a database connection, inside a transaction the store owns. */
@FunctionalInterface
public interface SqlWork<T> {
  T run(Connection connection) throws SQLException;
}
