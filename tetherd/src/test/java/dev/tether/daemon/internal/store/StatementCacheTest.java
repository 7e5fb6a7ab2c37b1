package dev.tether.daemon.internal.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatementCacheTest {
  @TempDir Path tmp;

  private static final List<Migration> SCHEMA = List.of(
      new Migration("test-001", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"));

  @Test
  void aStatementIsPreparedOncePerConnectionAndRunsAgainWithNewParameters() {
    StatementCache cache = new StatementCache();
    try (Store s = Store.open(tmp.resolve("t.db"), SCHEMA)) {
      for (String name : List.of("a", "b", "c")) {
        s.writeAndWait(c -> {
          PreparedStatement p = cache.get(c, "INSERT INTO items(name) VALUES (?)");
          assertThat(cache.get(c, "INSERT INTO items(name) VALUES (?)")).isSameAs(p);
          p.setString(1, name);
          return p.executeUpdate();
        });
      }
      assertThat(s.<String>read(c -> names(cache, c))).isEqualTo("a,b,c");
      assertThat(s.<String>read(c -> names(cache, c))).isEqualTo("a,b,c"); // the same (reset) statement, maybe on another reader
    }
  }

  @Test
  void aFailedStatementCanRunAgainAndTheWriteAroundItRollsBackAlone() {
    StatementCache cache = new StatementCache();
    try (Store s = Store.open(tmp.resolve("t.db"), SCHEMA)) {
      s.writeAndWait(c -> insert(cache, c, "a"));
      assertThatThrownBy(() -> s.writeAndWait(c -> insert(cache, c, "a"))).hasMessageContaining("UNIQUE");
      s.writeAndWait(c -> insert(cache, c, "b"));
      assertThat(s.<String>read(c -> names(cache, c))).isEqualTo("a,b");
    }
  }

  @Test
  void aClosedStatementIsPreparedAgain() {
    StatementCache cache = new StatementCache();
    try (Store s = Store.open(tmp.resolve("t.db"), SCHEMA)) {
      s.writeAndWait(c -> {
        PreparedStatement p = cache.get(c, "SELECT count(*) FROM items");
        p.close();
        PreparedStatement again = cache.get(c, "SELECT count(*) FROM items");
        assertThat(again).isNotSameAs(p);
        try (ResultSet rs = again.executeQuery()) {
          assertThat(rs.next()).isTrue();
          return rs.getInt(1);
        }
      });
    }
  }

  private static int insert(StatementCache cache, java.sql.Connection c, String name) throws SQLException {
    PreparedStatement p = cache.get(c, "INSERT INTO items(name) VALUES (?)");
    p.setString(1, name);
    return p.executeUpdate();
  }

  private static String names(StatementCache cache, java.sql.Connection c) throws SQLException {
    StringBuilder b = new StringBuilder();
    try (ResultSet rs = cache.get(c, "SELECT name FROM items ORDER BY id").executeQuery()) {
      while (rs.next()) {
        b.append(b.length() == 0 ? "" : ",").append(rs.getString(1));
      }
    }
    return b.toString();
  }
}
