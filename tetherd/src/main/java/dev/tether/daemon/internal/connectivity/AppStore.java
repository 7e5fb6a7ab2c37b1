package dev.tether.daemon.internal.connectivity;

import dev.tether.daemon.internal.store.StatementCache;
import dev.tether.daemon.internal.store.Store;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.function.BiConsumer;

/**
 * Any thread calls it: writes run on the store's writer thread, reads on a pooled reader. All SQL on {@code cx_apps}
 * (the apps that activated a session here, and whether they show a complication) and the count of an app's inbox.
 */
final class AppStore {
  private final Store store;
  private final StatementCache statements = new StatementCache();

  AppStore(Store store) {
    this.store = store;
  }

  /** Records that the app activated a session, with or without a complication; waits for the commit. */
  void activated(String app, boolean complication) {
    store.writeAndWait(conn -> {
      PreparedStatement s = statements.get(conn, "INSERT INTO cx_apps(app, complication) VALUES (?, ?) "
          + "ON CONFLICT(app) DO UPDATE SET complication = excluded.complication");
      s.setString(1, app);
      s.setInt(2, complication ? 1 : 0);
      s.executeUpdate();
      return null;
    });
  }

  /** Visits every app installed here, with whether it shows a complication. */
  void forEach(BiConsumer<String, Boolean> visitor) {
    store.read(conn -> {
      PreparedStatement s = statements.get(conn, "SELECT app, complication FROM cx_apps");
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          visitor.accept(rs.getString(1), rs.getInt(2) != 0);
        }
      }
      return null;
    });
  }

  /** How many rows wait in the app's inbox. */
  int pending(String app) {
    return store.read(conn -> {
      PreparedStatement s = statements.get(conn, "SELECT count(*) FROM cx_inbox WHERE app = ?");
      s.setString(1, app);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? rs.getInt(1) : 0;
      }
    });
  }
}
