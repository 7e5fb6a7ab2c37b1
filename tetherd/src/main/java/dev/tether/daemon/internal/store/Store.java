package dev.tether.daemon.internal.store;

import dev.tether.daemon.internal.Threads;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's durable state: one SQLite database in WAL mode with {@code synchronous=FULL}.
 *
 * <p>One writer thread owns every write and groups them (group commit): whatever work is queued when a transaction
 * starts goes into it, each piece in its own savepoint so one failure rolls back only itself, and all of them become
 * durable with one fsync. A write's future completes only after COMMIT returned, so callers acknowledge to apps and
 * peers only what is on disk. Reads use a small pool of separate connections and see committed state.
 */
public final class Store implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Store.class);
  private static final int MAX_BATCH = 2048;
  private static final int READERS = 4;

  private record Op<T>(SqlWork<T> work, CompletableFuture<T> result) {}

  private final Path file;
  private final Connection writer;
  private final BlockingQueue<Op<?>> queue = new LinkedBlockingQueue<>();
  private final BlockingQueue<Connection> readers = new ArrayBlockingQueue<>(READERS);
  private final Thread writerThread;
  private volatile boolean closed;

  private Store(Path file, List<Migration> migrations) throws SQLException {
    this.file = file;
    this.writer = open(file, false);
    migrate(writer, migrations);
    for (int i = 0; i < READERS; i++) {
      readers.add(open(file, true));
    }
    writerThread = Threads.start("tether-store-writer", this::writeLoop);
  }

  /** Opens (creating if needed) the database and applies every migration not yet applied, in list order. */
  public static Store open(Path file, List<Migration> migrations) {
    try {
      return new Store(file, migrations);
    } catch (SQLException e) {
      throw new TetherException(ErrorCode.GENERIC, "cannot open the Tether database " + file + ": " + e.getMessage(), e);
    }
  }

  private static Connection open(Path file, boolean readOnly) throws SQLException {
    // sqlite-jdbc otherwise runs "SELECT last_insert_rowid()" after every INSERT in case getGeneratedKeys() is called;
    // nothing here calls it (code that needs a new rowid asks SQLite itself)
    java.util.Properties props = new java.util.Properties();
    props.setProperty("jdbc.get_generated_keys", "false");
    Connection c = DriverManager.getConnection("jdbc:sqlite:" + file, props);
    try (Statement s = c.createStatement()) {
      s.execute("PRAGMA busy_timeout=10000");
      if (!readOnly) {
        s.execute("PRAGMA journal_mode=WAL");
      }
      s.execute("PRAGMA synchronous=FULL");
      s.execute("PRAGMA foreign_keys=ON");
      if (readOnly) {
        s.execute("PRAGMA query_only=1");
      }
    }
    return c;
  }

  private static void migrate(Connection c, List<Migration> migrations) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
    }
    Set<String> applied = new HashSet<>();
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id FROM schema_migrations")) {
      while (rs.next()) {
        applied.add(rs.getString(1));
      }
    }
    Set<String> seen = new HashSet<>();
    for (Migration m : migrations) {
      if (!seen.add(m.id())) {
        throw new SQLException("migration id listed twice: " + m.id());
      }
      if (applied.contains(m.id())) {
        continue;
      }
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        for (String sql : m.sql().split(";\\s*(\\n|$)")) {
          if (!sql.isBlank()) {
            s.execute(sql);
          }
        }
        try (PreparedStatement p = c.prepareStatement("INSERT INTO schema_migrations(id, applied_at) VALUES (?, ?)")) {
          p.setString(1, m.id());
          p.setLong(2, System.currentTimeMillis());
          p.executeUpdate();
        }
        c.commit();
        log.info("applied migration {}", m.id());
      } catch (SQLException e) {
        c.rollback();
        throw new SQLException("migration " + m.id() + " failed: " + e.getMessage(), e);
      } finally {
        c.setAutoCommit(true);
      }
    }
  }

  public Path file() {
    return file;
  }

  /** Queues work for the writer; the future completes after the transaction holding it committed. */
  public <T> CompletableFuture<T> write(SqlWork<T> work) {
    CompletableFuture<T> f = new CompletableFuture<>();
    synchronized (queue) { // orders this against close(): nothing is queued behind STOP
      if (closed) {
        f.completeExceptionally(new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "the store is closed (tetherd is stopping)"));
        return f;
      }
      queue.add(new Op<>(work, f));
    }
    return f;
  }

  /** Like {@link #write} but waits for the commit; a failure is rethrown as it was raised. */
  public <T> T writeAndWait(SqlWork<T> work) {
    return await(write(work));
  }

  /** Runs read-only work on a pooled connection that sees every committed write. */
  public <T> T read(SqlWork<T> work) {
    Connection c;
    try {
      c = readers.poll(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TetherException(ErrorCode.GENERIC, "interrupted while waiting for a database connection");
    }
    if (c == null) {
      throw new TetherException(ErrorCode.TIMED_OUT, "no database connection free for 30 s");
    }
    try {
      return work.run(c);
    } catch (SQLException e) {
      throw new TetherException(ErrorCode.GENERIC, "database read failed: " + e.getMessage(), e);
    } finally {
      readers.add(c);
    }
  }

  /** Whether the query (with its {@code ?} parameters bound in order) returns at least one row. */
  public boolean exists(String sql, Object... args) {
    return read(c -> {
      try (PreparedStatement p = c.prepareStatement(sql)) {
        for (int i = 0; i < args.length; i++) {
          p.setObject(i + 1, args[i]);
        }
        try (ResultSet rs = p.executeQuery()) {
          return rs.next();
        }
      }
    });
  }

  public static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw new TetherException(ErrorCode.GENERIC, String.valueOf(c.getMessage()), c);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TetherException(ErrorCode.GENERIC, "interrupted while waiting for the store");
    } catch (TimeoutException e) {
      throw new TetherException(ErrorCode.TIMED_OUT, "the store did not commit within 60 s");
    }
  }

  /** Queued by {@link #close()} after every write already queued: the writer finishes those, then stops. */
  private static final Op<Void> STOP = new Op<>(c -> null, new CompletableFuture<>());

  private void writeLoop() {
    List<Op<?>> batch = new ArrayList<>();
    boolean stopping = false;
    while (!stopping) {
      try {
        batch.add(queue.take()); // sleeps until there is work: no polling when idle
        queue.drainTo(batch, MAX_BATCH - 1);
        stopping = batch.remove(STOP); // always last: close() queues nothing after it
        if (!batch.isEmpty()) {
          runBatch(batch);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (Throwable t) {
        log.error("store writer failed", t);
        Throwable reported = t instanceof SQLException e ? writeFailed(e) : t;
        for (Op<?> op : batch) {
          op.result().completeExceptionally(reported);
        }
      } finally {
        batch.clear();
      }
    }
  }

  /** A failed write as a typed error; a full disk says where to free space (SQLite rolled the write back). */
  private TetherException writeFailed(SQLException e) {
    String m = String.valueOf(e.getMessage());
    if (m.contains("SQLITE_FULL") || m.contains("database or disk is full") || m.contains("No space left")) {
      return new TetherException(ErrorCode.INSUFFICIENT_SPACE, "the disk holding the Tether home " + file.toAbsolutePath().getParent()
          + " is full, so nothing was changed: free space there (or move the home with --home or TETHER_HOME to a bigger disk)"
          + " and try again (" + m + ")", e);
    }
    return new TetherException(ErrorCode.GENERIC, "database write failed: " + m, e);
  }

  private void runBatch(List<Op<?>> batch) throws SQLException {
    List<Object> results = new ArrayList<>(batch.size());
    List<Throwable> failures = new ArrayList<>(batch.size());
    SQLException failure = null;
    writer.setAutoCommit(false);
    try {
      for (Op<?> op : batch) {
        try (Statement s = writer.createStatement()) {
          s.execute("SAVEPOINT op");
        }
        try {
          Object r = op.work().run(writer);
          try (Statement s = writer.createStatement()) {
            s.execute("RELEASE op");
          }
          results.add(r);
          failures.add(null);
        } catch (Throwable t) {
          try (Statement s = writer.createStatement()) {
            s.execute("ROLLBACK TO op");
            s.execute("RELEASE op");
          }
          results.add(null);
          failures.add(t instanceof SQLException e ? writeFailed(e) : t);
        }
      }
      writer.commit();
    } catch (SQLException e) {
      failure = e;
      try {
        writer.rollback();
      } catch (SQLException ignored) {
        // the commit failure is the one to report
      }
      throw e;
    } finally {
      try {
        writer.setAutoCommit(true);
      } catch (SQLException later) {
        if (failure == null) {
          throw later;
        }
        // SQLite may have rolled back already (a full disk): report the commit failure, not "no transaction is active"
        failure.addSuppressed(later);
      }
    }
    for (int i = 0; i < batch.size(); i++) {
      @SuppressWarnings("unchecked")
      Op<Object> op = (Op<Object>) batch.get(i);
      if (failures.get(i) != null) {
        op.result().completeExceptionally(failures.get(i));
      } else {
        op.result().complete(results.get(i));
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    synchronized (queue) {
      closed = true;
      queue.add(STOP);
    }
    try {
      writerThread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      writer.close();
    } catch (SQLException e) {
      log.warn("closing the writer connection failed", e);
    }
    for (Connection c : readers) {
      try {
        c.close();
      } catch (SQLException e) {
        log.warn("closing a reader connection failed", e);
      }
    }
  }
}
