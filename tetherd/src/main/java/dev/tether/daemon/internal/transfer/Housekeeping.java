package dev.tether.daemon.internal.transfer;

import dev.tether.daemon.internal.time.TetherClock;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the transfer control executor ({@code tether-transfer-ctl}): a clock timer hands it {@link #tick} every
 * minute (the next timer is set when one fires). Each tick looks again at what waits for conditions and, hourly,
 * forgets completed transfers; at start it removes stale files from the transfers folder (on the starting thread).
 */
final class Housekeeping {
  private static final Logger log = LoggerFactory.getLogger(Housekeeping.class);
  private static final Duration RESUME_FILE_TTL = Duration.ofDays(7);
  /** Completed transfers whose events were all acknowledged stay listed this long, then are forgotten. */
  static final Duration COMPLETED_TTL = Duration.ofHours(24);

  private final TransferStore store;
  private final TetherClock clock;
  private final Path dir;
  private final Scheduler scheduler;
  /** The last prune (control executor only). */
  private long lastPrune;
  private volatile boolean closed;

  Housekeeping(TransferStore store, TetherClock clock, Path dir, Scheduler scheduler) {
    this.store = store;
    this.clock = clock;
    this.dir = dir;
    this.scheduler = scheduler;
  }

  /** Ticks once now and then every minute. */
  void start() {
    scheduler.execute(this::tick);
    scheduleTick();
  }

  private void tick() {
    if (closed) {
      return;
    }
    long now = clock.now().toEpochMilli();
    if (now - lastPrune >= Duration.ofHours(1).toMillis()) {
      lastPrune = now;
      prune(now);
    }
    scheduler.recheckConditions();
  }

  /**
   * Runs {@link #tick} every minute. The next timer is set when this one fires, not when the tick has run on the
   * control executor: a virtual clock (the test kit's) that is moved on before a slow tick ran would otherwise find no
   * timer left, and pruning and condition checks would stop for good.
   */
  private void scheduleTick() {
    clock.schedule(clock.now().plusSeconds(60), () -> {
      if (closed) {
        return;
      }
      scheduleTick();
      scheduler.execute(this::tick);
    });
  }

  /** Forgets completed transfers older than {@link #COMPLETED_TTL} that no unacknowledged event refers to. */
  private void prune(long now) {
    store.prune(now - COMPLETED_TTL.toMillis()).whenComplete((n, e) -> {
      if (e != null) {
        log.warn("pruning completed transfers failed", e);
      } else if (n > 0) {
        log.info("forgot {} transfer(s) completed more than {} h ago", n, COMPLETED_TTL.toHours());
      }
    });
  }

  /** Removes part and finished files nothing refers to, and resume data older than a week. */
  void removeStaleFiles() throws IOException {
    Set<String> keep = store.filesToKeep();
    long cutoff = System.currentTimeMillis() - RESUME_FILE_TTL.toMillis();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        boolean stale;
        if (name.startsWith("resume-")) {
          stale = Files.getLastModifiedTime(p).toMillis() < cutoff;
        } else {
          stale = (name.endsWith(".part") || name.endsWith(".download")) && !keep.contains(name);
        }
        if (stale) {
          log.info("removing stale transfer file {}", p);
          Files.deleteIfExists(p);
        }
      }
    }
  }

  void close() {
    closed = true;
  }
}
