package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the finisher thread ({@code tether-transfer-finisher}), which blocks on its queue; workers hand it finished
 * downloads with {@link #add}. Makes a batch of them durable at once: every part file synced in parallel on the sync
 * pool ({@code tether-transfer-sync}), moved into place, each folder synced once, then every completion and its events
 * ({@code downloadFinished}, {@code completed}) committed together, so {@code completed} is recorded exactly once.
 */
final class DownloadFinisher {
  private static final Logger log = LoggerFactory.getLogger(DownloadFinisher.class);

  /** A download whose body is in its part file, handed to the finisher. */
  private record Finished(TransferRow row, Path part, int status, long bytes) {}

  private final TransferStore store;
  private final TetherClock clock;
  private final Path dir;
  private final Scheduler scheduler;
  private final SessionEvents events;
  private final TransferView view;
  private final AttemptRunner runner;
  private final LongConsumer beforeRecordingFinished;
  private final BlockingQueue<Finished> finishing = new LinkedBlockingQueue<>();
  private final ExecutorService syncPool = Threads.pool("tether-transfer-sync", 8);
  private final Thread thread;
  private volatile boolean closed;

  DownloadFinisher(TransferStore store, TetherClock clock, Path dir, Scheduler scheduler, SessionEvents events,
      TransferView view, AttemptRunner runner, LongConsumer beforeRecordingFinished) {
    this.store = store;
    this.clock = clock;
    this.dir = dir;
    this.scheduler = scheduler;
    this.events = events;
    this.view = view;
    this.runner = runner;
    this.beforeRecordingFinished = beforeRecordingFinished;
    this.thread = Threads.start("tether-transfer-finisher", this::finishLoop);
  }

  /** Hands over a download whose whole body of {@code bytes} is in {@code part}. Any thread. */
  void add(TransferRow row, Path part, int status, long bytes) {
    finishing.add(new Finished(row, part, status, bytes));
  }

  private void finishLoop() {
    List<Finished> batch = new ArrayList<>();
    Set<Long> recorded = new HashSet<>();
    while (!closed) {
      try {
        batch.add(finishing.take());
        finishing.drainTo(batch, 1023);
        finalizeBatch(batch, recorded);
      } catch (InterruptedException e) {
        return;
      } catch (Throwable t) {
        log.error("finishing {} download(s) failed", batch.size(), t);
      } finally {
        for (Finished f : batch) {
          long id = f.row().id();
          scheduler.finalized(id);
          if (!closed && !recorded.contains(id)) {
            scheduler.later(id); // not completed here: decide again what it does next
          }
        }
        batch.clear();
        recorded.clear();
      }
    }
  }

  /**
   * Makes a batch of finished downloads durable: every part file synced (in parallel, so the file system merges the
   * flushes), moved into place, each folder synced once, then every completion and its events committed together.
   * The ids whose completion was committed are added to {@code recorded}.
   */
  private void finalizeBatch(List<Finished> batch, Set<Long> recorded) throws Exception {
    long started = System.nanoTime();
    List<Callable<IOException>> syncs = new ArrayList<>();
    for (Finished f : batch) {
      syncs.add(() -> {
        if (alreadyMoved(f)) {
          return null;
        }
        try (FileChannel ch = FileChannel.open(f.part(), StandardOpenOption.WRITE)) {
          ch.force(true);
          return null;
        } catch (IOException e) {
          return e;
        }
      });
    }
    List<Future<IOException>> synced = syncPool.invokeAll(syncs);
    long syncedAt = System.nanoTime();
    List<Path> files = new ArrayList<>();
    Set<Path> folders = new HashSet<>();
    for (int i = 0; i < batch.size(); i++) {
      Finished f = batch.get(i);
      TransferRow r = f.row();
      IOException problem = synced.get(i).get();
      Path file = null;
      if (problem == null) {
        try {
          file = alreadyMoved(f) ? dir.resolve("transfer-" + r.id() + ".download")
              : r.destination() != null ? moveToDestination(f.part(), Path.of(r.destination()))
              : moveInto(f.part(), dir.resolve("transfer-" + r.id() + ".download"));
          folders.add(file.getParent());
        } catch (IOException e) {
          problem = e;
        }
      }
      if (problem != null) {
        String m = String.valueOf(problem.getMessage());
        Path where = r.destination() != null ? Path.of(r.destination()) : dir.resolve("transfer-" + r.id() + ".download");
        if (HttpAttempt.isNoSpace(problem)) {
          runner.record(r, new HttpAttempt.Fail(ErrorCode.INSUFFICIENT_SPACE, "the finished download (" + HttpAttempt.mib(f.bytes())
              + ") could not be stored at " + where + ": no space left on the disk holding " + where.getParent() + "; free at least "
              + HttpAttempt.mib(f.bytes()) + " there" + (r.destination() == null ? "" : " or choose a destination on another disk")
              + ", then start the download again", f.status()));
        } else {
          runner.record(r, new HttpAttempt.Fail(ErrorCode.FILE_ACCESS_DENIED, "the finished download could not be stored at " + where + ": " + m
              + "; check that tetherd may write there, then start the download again", f.status()));
        }
      }
      files.add(file);
    }
    List<Callable<Void>> dirSyncs = new ArrayList<>();
    for (Path folder : folders) {
      dirSyncs.add(() -> {
        fsyncDir(folder);
        return null;
      });
    }
    syncPool.invokeAll(dirSyncs);
    for (int i = 0; i < batch.size(); i++) {
      if (files.get(i) != null) {
        beforeRecordingFinished.accept(batch.get(i).row().id());
      }
    }
    List<CompletableFuture<Boolean>> commits = new ArrayList<>();
    for (int i = 0; i < batch.size(); i++) {
      Finished f = batch.get(i);
      Path file = files.get(i);
      if (file == null) {
        commits.add(CompletableFuture.completedFuture(false));
        continue;
      }
      commits.add(store.write(c -> commitTx(c, f, file)));
    }
    Set<SessionKey> touched = new LinkedHashSet<>();
    for (int i = 0; i < batch.size(); i++) {
      Path file = files.get(i);
      if (file == null) {
        continue;
      }
      boolean done;
      try {
        done = Store.await(commits.get(i));
      } catch (RuntimeException e) {
        log.error("transfer {}: recording its completion failed", batch.get(i).row().id(), e);
        done = false;
      }
      TransferRow r = batch.get(i).row();
      if (done) {
        recorded.add(r.id());
        touched.add(new SessionKey(r.appId(), r.session()));
      } else if (r.destination() == null) {
        Files.deleteIfExists(file);
      }
    }
    for (SessionKey k : touched) {
      events.afterEvents(k, "transfers finished");
    }
    long ms = (System.nanoTime() - started) / 1_000_000;
    if (batch.size() > 1 || ms > 100) {
      log.info("finished {} download(s): synced in {} ms, stored and recorded in {} ms", batch.size(),
          (syncedAt - started) / 1_000_000, ms - (syncedAt - started) / 1_000_000);
    }
  }

  /** Records one download completed with its two events, on the store's writer; false when it no longer runs. */
  private boolean commitTx(java.sql.Connection c, Finished f, Path file) throws java.sql.SQLException {
    TransferRow r = f.row();
    TransferRow now = store.loadTx(c, r.id());
    // a suspend that came after the whole body had arrived does not throw it away: the transfer completes
    if (now == null || !(TransferRow.RUNNING.equals(now.state()) || TransferRow.SUSPENDED.equals(now.state()))) {
      return false;
    }
    // one update, and both events' snapshots made from the row as each step leaves it (no reads in between)
    store.completeDownloadTx(c, r.id(), f.bytes(), f.status(), clock.now().toEpochMilli());
    TransferRow withBody = now.withBody(f.bytes());
    ObjectNode finished = Json.object();
    ObjectNode snapshot = view.snapshot(withBody);
    snapshot.put("state", TransferRow.RUNNING);
    finished.set("transfer", snapshot);
    finished.put("file", file.toString());
    finished.put("moved", r.destination() != null);
    ObjectNode completed = Json.object();
    completed.set("transfer", view.snapshot(withBody.completedOk(f.status(), f.bytes())));
    events.addTx(c, new SessionKey(r.appId(), r.session()), new TransferStore.NewEvent("downloadFinished", r.id(), finished, file.toString()),
        new TransferStore.NewEvent("completed", r.id(), completed, null));
    return true;
  }

  /** The daemon stopped after moving this download's file into place but before recording it. */
  private boolean alreadyMoved(Finished f) {
    return f.row().destination() == null && !Files.exists(f.part()) && Files.exists(dir.resolve("transfer-" + f.row().id() + ".download"));
  }

  private static Path moveInto(Path part, Path target) throws IOException {
    Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return target; // the caller syncs the folder, once per batch
  }

  private static Path moveToDestination(Path part, Path dest) throws IOException {
    try {
      Files.move(part, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      // another file system: copy beside the destination, sync, then rename into place
      Path tmp = dest.resolveSibling("." + dest.getFileName() + ".tether-" + UUID.randomUUID() + ".tmp");
      try {
        Files.copy(part, tmp);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
          ch.force(true);
        }
        Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
      Files.deleteIfExists(part);
    }
    return dest; // the caller syncs the folder, once per batch
  }

  private static void fsyncDir(Path d) {
    try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      log.debug("fsync of folder {} failed: {}", d, e.toString());
    }
  }

  void close() {
    closed = true;
    thread.interrupt();
    syncPool.shutdown();
  }
}
