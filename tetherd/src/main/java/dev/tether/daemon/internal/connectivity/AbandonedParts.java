package dev.tether.daemon.internal.connectivity;

import dev.tether.daemon.internal.time.TetherClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the connectivity executor ({@code tether-connectivity}), to which the clock's timer hands each sweep. Partly
 * received files whose sender cancelled them while the link was down: deleted once they have not grown for {@code
 * tether.abandonedPartDays} (7 by default), at start and every 6 hours.
 */
final class AbandonedParts {
  private static final Logger log = LoggerFactory.getLogger(AbandonedParts.class);

  private final Path inDir;
  private final TetherClock clock;
  private final ExecutorService exec;

  AbandonedParts(Path inDir, TetherClock clock, ExecutorService exec) {
    this.inDir = inDir;
    this.clock = clock;
    this.exec = exec;
  }

  /** Sweeps now and schedules the next sweeps. */
  void start() {
    dropAbandonedIncoming();
    scheduleAbandonedSweep();
  }

  /** How long a partly received file may wait for the rest before it counts as abandoned (its sender cancelled it offline). */
  private static final java.time.Duration ABANDONED_PART_AGE = java.time.Duration.ofDays(Long.getLong("tether.abandonedPartDays", 7));

  /**
   * Deletes partly received files that have not grown for {@link #ABANDONED_PART_AGE}: a sender that cancels a file
   * while the link is down cannot say so, and a file still wanted is offered again (and starts over) anyway.
   */
  private void dropAbandonedIncoming() {
    long cutoff = System.currentTimeMillis() - ABANDONED_PART_AGE.toMillis();
    try (var s = Files.list(inDir)) {
      for (Path p : s.toList()) {
        if (p.getFileName().toString().endsWith(".part") && Files.getLastModifiedTime(p).toMillis() < cutoff) {
          log.info("dropping {}: partly received and untouched for over {} days", p.getFileName(), ABANDONED_PART_AGE.toDays());
          Disk.deleteQuietly(p);
        }
      }
    } catch (IOException e) {
      log.warn("cannot look for abandoned incoming files in {}: {}", inDir, e.toString());
    }
  }

  /** Looks for abandoned part files every 6 hours; the next timer is set when this one fires (see TransferService). */
  private void scheduleAbandonedSweep() {
    clock.schedule(clock.now().plus(java.time.Duration.ofHours(6)), () -> {
      if (!exec.isShutdown()) {
        scheduleAbandonedSweep();
        try {
          exec.execute(this::dropAbandonedIncoming);
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // the daemon is stopping
        }
      }
    });
  }
}
