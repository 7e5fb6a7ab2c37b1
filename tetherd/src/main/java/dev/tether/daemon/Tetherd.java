package dev.tether.daemon;

import dev.tether.daemon.internal.Threads;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.wire.DaemonOp;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonOptions;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.DaemonServices;
import dev.tether.daemon.internal.Logging;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.time.SystemClock;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import dev.tether.protocol.Version;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * tetherd: the per-user daemon that owns every background transfer, queue, budget and wake.
 *
 * <p>Run it as a process with {@code java dev.tether.daemon.Tetherd --home DIR} (what {@code tether daemon start}
 * and the client library do), or embed it with {@link #start(DaemonOptions)} as the test kit does. One daemon runs
 * per home: a second one finds the home locked and exits with a message naming the running one.
 */
public final class Tetherd implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Tetherd.class);

  private final Path home;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Store store;
  private final TetherClock clock;
  private final boolean ownsClock;
  private final IpcServer ipc;
  private final List<DaemonService> services;
  private final Instant startedAt = Instant.now();
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean closed;

  private Tetherd(DaemonOptions options) throws Exception {
    this.home = options.home().toAbsolutePath().normalize();
    Files.createDirectories(home);
    Files.setPosixFilePermissions(home, PosixFilePermissions.fromString("rwx------"));
    Files.createDirectories(TetherPaths.dataDir(home));
    Files.createDirectories(TetherPaths.logDir(home));
    lockChannel = FileChannel.open(TetherPaths.lockFile(home), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.READ);
    FileLock l = lockChannel.tryLock();
    if (l == null) {
      lockChannel.close();
      throw new TetherException(ErrorCode.GENERIC, "tetherd is already running for home " + home + " (pid "
          + readPid(home) + "); stop it with 'tether --home " + home + " daemon stop'");
    }
    lock = l;
    Files.writeString(TetherPaths.pidFile(home), Long.toString(ProcessHandle.current().pid()), StandardCharsets.UTF_8);
    services = DaemonServices.create();
    List<Migration> migrations = new ArrayList<>();
    for (DaemonService s : services) {
      migrations.addAll(s.migrations());
    }
    store = Store.open(TetherPaths.database(home), migrations);
    ownsClock = options.clock() == null;
    clock = ownsClock ? new SystemClock() : options.clock();
    ipc = new IpcServer(TetherPaths.socket(home), Files.getOwner(home), this::welcome);
    ipc.register(DaemonOp.STATUS, (c, b) -> CompletableFuture.completedFuture(status()));
    ipc.register(DaemonOp.STOP, (c, b) -> {
      Threads.start("tether-stop", () -> {
        try {
          Thread.sleep(50);
        } catch (InterruptedException ignored) {
          Thread.currentThread().interrupt();
        }
        close();
      });
      return CompletableFuture.completedFuture(status());
    });
    DaemonContext context = new DaemonContext(home, store, clock, ipc, options);
    for (DaemonService s : services) {
      s.start(context);
    }
    ipc.start();
    for (DaemonService s : services) {
      s.started();
    }
    log.info("tetherd {} started, home {}, pid {}", Version.get(), home, ProcessHandle.current().pid());
  }

  /** Starts a daemon in this process; it serves until {@link #close()}. */
  public static Tetherd start(DaemonOptions options) {
    try {
      return new Tetherd(options);
    } catch (TetherException e) {
      throw e;
    } catch (Exception e) {
      throw new TetherException(ErrorCode.GENERIC, "tetherd could not start in " + options.home() + ": " + e, e);
    }
  }

  public Path home() {
    return home;
  }

  private ObjectNode welcome() {
    ObjectNode o = Json.object();
    o.put("protocol", Protocol.VERSION);
    o.put("version", Version.get());
    o.put("pid", ProcessHandle.current().pid());
    o.put("home", home.toString());
    return o;
  }

  private ObjectNode status() {
    ObjectNode o = welcome();
    o.put("running", true);
    o.put("startedAt", startedAt.toString());
    o.put("connections", ipc.connections().size());
    o.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
    return o;
  }

  private static String readPid(Path home) {
    try {
      return Files.readString(TetherPaths.pidFile(home)).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }

  /** Blocks until the daemon stopped. */
  public void awaitStop() throws InterruptedException {
    stopped.await();
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    log.info("tetherd stopping");
    ipc.close();
    for (int i = services.size() - 1; i >= 0; i--) {
      try {
        services.get(i).close();
      } catch (RuntimeException e) {
        log.warn("closing {} failed", services.get(i).getClass().getSimpleName(), e);
      }
    }
    store.close();
    if (ownsClock && clock instanceof SystemClock sc) {
      sc.close();
    }
    try {
      Files.deleteIfExists(TetherPaths.pidFile(home));
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      log.warn("releasing the home lock failed", e);
    }
    stopped.countDown();
  }

  /** {@code tetherd [--home DIR]}: runs the daemon in the foreground until stopped or signalled. */
  public static void main(String[] args) throws Exception {
    Path explicit = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--home") && i + 1 < args.length) {
        explicit = Path.of(args[++i]);
      } else if (args[i].equals("--version")) {
        System.out.println("tetherd " + Version.get());
        return;
      } else {
        System.err.println("usage: tetherd [--home DIR]");
        System.exit(2);
      }
    }
    Path home = TetherPaths.resolveHome(explicit);
    Files.createDirectories(TetherPaths.logDir(home));
    Logging.toHome(TetherPaths.logDir(home), false);
    Tetherd d;
    try {
      d = start(DaemonOptions.builder(home).build());
    } catch (TetherException e) {
      System.err.println("tetherd: " + e.getMessage());
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(Threads.named("tether-shutdown").newThread(d::close));
    System.out.println("tetherd " + Version.get() + " running, home " + home + ", pid " + ProcessHandle.current().pid());
    System.out.flush();
    d.awaitStop();
    System.exit(0);
  }
}
