package dev.tether.daemon.internal.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.protocol.TetherException;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreTest {
  @TempDir Path tmp;

  private static final List<Migration> SCHEMA = List.of(
      new Migration("test-001", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"),
      new Migration("test-002", "ALTER TABLE items ADD COLUMN size INTEGER NOT NULL DEFAULT 0;\nCREATE INDEX items_size ON items(size)"));

  @Test
  void migrationsApplyFromAnEmptyDatabaseOnceEach() {
    Path db = tmp.resolve("t.db");
    try (Store s = Store.open(db, SCHEMA)) {
      s.writeAndWait(c -> insert(c, "a", 1));
    }
    try (Store s = Store.open(db, SCHEMA)) {
      assertThat((int) s.read(c -> count(c, "SELECT count(*) FROM schema_migrations"))).isEqualTo(2);
      assertThat((int) s.read(c -> count(c, "SELECT size FROM items WHERE name='a'"))).isEqualTo(1);
    }
  }

  @Test
  void aMigrationListedTwiceIsRefused() {
    assertThatThrownBy(() -> Store.open(tmp.resolve("t.db"), List.of(SCHEMA.get(0), SCHEMA.get(0))))
        .isInstanceOf(TetherException.class).hasMessageContaining("test-001");
  }

  @Test
  void concurrentWritesShareCommitsAndAFailureRollsBackOnlyItself() {
    try (Store s = Store.open(tmp.resolve("t.db"), SCHEMA)) {
      List<CompletableFuture<Integer>> fs = new ArrayList<>();
      for (int i = 0; i < 2000; i++) {
        String name = "n" + i;
        fs.add(s.write(c -> insert(c, name, 0)));
      }
      CompletableFuture<Integer> dup = s.write(c -> insert(c, "n5", 0)); // violates UNIQUE
      CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).join();
      // the duplicate may be in a later group commit than the last of the others: wait for it too
      assertThat(dup).failsWithin(java.time.Duration.ofSeconds(30)).withThrowableOfType(java.util.concurrent.ExecutionException.class)
          .withCauseInstanceOf(TetherException.class);
      assertThat((int) s.read(c -> count(c, "SELECT count(*) FROM items"))).isEqualTo(2000);
    }
  }

  @Test
  void committedWritesSurviveReopen() {
    Path db = tmp.resolve("t.db");
    Store s = Store.open(db, SCHEMA);
    s.writeAndWait(c -> insert(c, "kept", 7));
    // no close: the writer's commit must already be durable
    try (Store again = Store.open(db, SCHEMA)) {
      assertThat((int) again.read(c -> count(c, "SELECT size FROM items WHERE name='kept'"))).isEqualTo(7);
    } finally {
      s.close();
    }
  }

  private static int insert(java.sql.Connection c, String name, int size) throws SQLException {
    try (PreparedStatement p = c.prepareStatement("INSERT INTO items(name, size) VALUES (?, ?)")) {
      p.setString(1, name);
      p.setInt(2, size);
      return p.executeUpdate();
    }
  }

  private static int count(java.sql.Connection c, String sql) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
  }
}
