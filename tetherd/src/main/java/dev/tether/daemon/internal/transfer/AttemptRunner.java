package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs each attempt on a worker of its own ({@code tether-transfer}, one blocking thread per running transfer); the
 * scheduler hands it work with {@link #start}. Drives {@link HttpAttempt} and records its outcome: a finished download
 * goes to the {@link DownloadFinisher} from the worker (no hand-off through the control executor), an upload's or a
 * failure's completion commits from here, a retry asks {@link RetryPolicy} when. Progress is pushed at most every
 * {@value #PROGRESS_INTERVAL_MS} ms per transfer, from the progress timer ({@code tether-transfer-progress}).
 */
final class AttemptRunner {
  private static final Logger log = LoggerFactory.getLogger(AttemptRunner.class);
  static final long PROGRESS_INTERVAL_MS = 250;
  private static final long SMALL_BODY = 4L << 20;

  /** A running attempt: shared by its worker (which writes {@code bytes}) and the threads that stop or show it. */
  static final class Running {
    final HttpAttempt attempt;
    final TransferRow row;
    final CompletableFuture<Void> done = new CompletableFuture<>();
    volatile long bytes = -1;
    /** The body's whole length once the response said it (its {@code Content-Length}), else -1. */
    volatile long total = -1;
    final long startedAt = System.nanoTime() / 1_000_000;
    volatile long lastProgressAt;
    final AtomicBoolean progressPending = new AtomicBoolean();

    Running(HttpAttempt attempt, TransferRow row) {
      this.attempt = attempt;
      this.row = row;
    }
  }

  private final TransferStore store;
  private final TetherClock clock;
  private final Path dir;
  private final CloseableHttpClient http;
  private final Sessions sessions;
  private final Conditions conditions;
  private final Scheduler scheduler;
  private final NetworkWatch network;
  private final SessionEvents events;
  private final EventPump pump;
  private final TransferView view;
  private final ExecutorService workers = Threads.elastic("tether-transfer");
  private final ExecutorService flusher = Threads.serial("tether-transfer-flush");
  private final ScheduledExecutorService progressTimer = Threads.timer("tether-transfer-progress");
  private final Map<Long, Running> running = new ConcurrentHashMap<>();
  private DownloadFinisher finisher;
  private volatile boolean closed;

  AttemptRunner(TransferStore store, TetherClock clock, Path dir, CloseableHttpClient http, Sessions sessions,
      Conditions conditions, Scheduler scheduler, NetworkWatch network, SessionEvents events, EventPump pump, TransferView view) {
    this.store = store;
    this.clock = clock;
    this.dir = dir;
    this.http = http;
    this.sessions = sessions;
    this.conditions = conditions;
    this.scheduler = scheduler;
    this.network = network;
    this.events = events;
    this.pump = pump;
    this.view = view;
  }

  void wire(DownloadFinisher finisher) {
    this.finisher = finisher;
  }

  /** The running attempt of transfer {@code id}, or null. */
  Running running(long id) {
    return running.get(id);
  }

  /** Every running attempt. */
  Collection<Running> running() {
    return List.copyOf(running.values());
  }

  /** Runs an attempt on a worker; {@code row} is the transfer's row as just read, or null to read it there. False when stopping. */
  boolean start(long id, String slotKey, TransferRow row) {
    try {
      workers.execute(() -> runAttempt(id, slotKey, row));
      return true;
    } catch (RejectedExecutionException e) {
      return false;
    }
  }

  /** Stops the transfer's attempt, if one runs; completes when its worker has let go of it. */
  CompletableFuture<Void> stop(long id) {
    Running run = running.get(id);
    if (run == null) {
      return CompletableFuture.completedFuture(null);
    }
    run.attempt.stop();
    return run.done;
  }

  /** Tells a resumable-upload server it can drop what it kept of {@code r} (best effort, on a worker). */
  void cancelUploadResource(TransferRow r) {
    if (closed) {
      return;
    }
    SessionConfig cfg = sessions.config(new SessionKey(r.appId(), r.session()));
    workers.execute(() -> new HttpAttempt(http, r, cfg, null, flusher).cancelUploadResource(URI.create(r.uploadResource()), r.credential()));
  }

  private void runAttempt(long id, String slotKey, TransferRow row) {
    Running run = null;
    boolean toFinisher = false; // a finished download: the finisher decides what comes next
    try {
      if (closed) {
        return;
      }
      TransferRow r = row != null ? row : store.load(id);
      if (r == null || !TransferRow.RUNNING.equals(r.state()) || !TransferRow.READY.equals(r.phase())) {
        return;
      }
      long now = clock.now().toEpochMilli();
      if (now >= r.deadline()) {
        boolean offline = network.needsNetwork(r.url()) && !conditions.online(false);
        record(r, new HttpAttempt.Fail(ErrorCode.RESOURCE_TIMED_OUT, "the transfer did not finish within the session's resource timeout"
            + (offline ? " (the device has no network)" : ""), 0));
        return;
      }
      SessionConfig cfg = sessions.config(new SessionKey(r.appId(), r.session()));
      Path part = r.tempFile() == null ? null : dir.resolve(r.tempFile());
      Path finished = dir.resolve("transfer-" + id + ".download");
      if (r.isDownload() && r.destination() == null && Files.exists(finished) && (part == null || !Files.exists(part))) {
        // the daemon stopped between moving the finished file and recording it: record it now
        record(r, new HttpAttempt.Done(r.status(), Files.size(finished)));
        return;
      }
      HttpAttempt attempt = new HttpAttempt(http, r, cfg, part, flusher);
      run = new Running(attempt, r);
      running.put(id, run);
      if (network.needsNetwork(r.url())) {
        if (!conditions.online(false)) {
          return; // the network went away since it was scheduled: it waits for one (finally reschedules it)
        }
        network.watchNetwork(); // notice the network going away while this runs
      }
      // a suspend or cancel that ran before the attempt was registered did not see it: it must not start then
      if (!TransferRow.RUNNING.equals(store.state(id))) {
        return;
      }
      final Running fRun = run;
      long t0 = System.nanoTime();
      HttpAttempt.Outcome o = attempt.run(r.credential(), bytes -> progress(fRun, bytes), validatorSink(r, fRun), uploadResourceSink(r));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      if (o instanceof HttpAttempt.Done d && d.bytes() >= (64L << 20)) {
        log.info("transfer {}: {} MiB in {} ms ({} MiB/s)", id, d.bytes() >> 20, ms, ms == 0 ? 0 : (d.bytes() >> 20) * 1000 / ms);
      }
      toFinisher = o instanceof HttpAttempt.Done && r.isDownload();
      record(r, o);
    } catch (Throwable t) {
      log.error("transfer {} failed unexpectedly", id, t);
      TransferRow r = store.load(id);
      if (r != null) {
        try {
          record(r, new HttpAttempt.Retry(null, "internal error: " + t, false, false));
        } catch (Throwable t2) {
          log.error("transfer {}: cannot record the failure", id, t2);
        }
      }
    } finally {
      if (run != null) {
        running.remove(id, run);
        run.done.complete(null);
      }
      scheduler.attemptEnded(id, slotKey);
      if (!closed && !toFinisher) {
        scheduler.later(id);
      }
    }
  }

  private HttpAttempt.UploadResourceSink uploadResourceSink(TransferRow r) {
    return resource -> {
      if (resource != null) {
        log.info("transfer {}: the server takes it as a resumable upload at {}", r.id(), resource);
      }
      // durable before any byte goes to it: an upload resumed after a restart starts from this resource
      Store.await(store.setUploadResource(r.id(), resource));
    };
  }

  private HttpAttempt.ValidatorSink validatorSink(TransferRow r, Running run) {
    return (etag, lastModified, acceptRanges, total, status, restarted) -> {
      run.total = total; // progress shows it, whether or not it is stored
      if (total >= 0 && total <= SMALL_BODY && !restarted && r.etag() == null) {
        return; // a small body is fetched again rather than resumed: no need to record its validator
      }
      if (restarted) {
        log.info("transfer {}: the server sent the whole body again (validator changed or no range support); restarting from 0", r.id());
      }
      // a large body may be resumed after a crash: its validator must be durable first
      Store.await(store.setValidators(r.id(), etag, lastModified, acceptRanges, total, status));
    };
  }

  /**
   * Progress is pushed at most every {@value #PROGRESS_INTERVAL_MS} ms per transfer, the first one that long after the
   * attempt started, always with the latest count (a trailing push is scheduled when one is due later): a transfer
   * finishing sooner pushes none, its completion says it all.
   */
  private void progress(Running run, long bytes) {
    run.bytes = bytes;
    if (run.progressPending.get()) {
      return;
    }
    long now = System.nanoTime() / 1_000_000;
    long due = Math.max(run.startedAt, run.lastProgressAt) + PROGRESS_INTERVAL_MS;
    if (!run.progressPending.compareAndSet(false, true)) {
      return;
    }
    if (now >= due) {
      pushProgress(run);
    } else {
      try {
        progressTimer.schedule(() -> pushProgress(run), due - now, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        run.progressPending.set(false); // shutting down
      }
    }
  }

  private void pushProgress(Running run) {
    run.lastProgressAt = System.nanoTime() / 1_000_000;
    run.progressPending.set(false);
    if (running.get(run.row.id()) != run) {
      return; // the attempt ended meanwhile
    }
    SessionKey key = new SessionKey(run.row.appId(), run.row.session());
    pump.pushProgress(key, () -> {
      TransferRow r = store.load(run.row.id());
      if (r == null || !TransferRow.RUNNING.equals(r.state())) {
        return null;
      }
      ObjectNode o = Json.object();
      o.put("session", key.id());
      o.put("type", r.isDownload() ? "progress" : "uploadProgress");
      o.set("transfer", view.snapshot(r));
      return o;
    });
  }

  /**
   * Tells the session's openers (live, nothing stored) that the transfer waits to try again, why and when: a
   * {@code transfer.progress} frame of type {@code retrying} whose snapshot has {@code lastError} and
   * {@code nextAttemptAt}. The client library takes it to refresh the transfer without calling the delegate.
   */
  private void pushRetrying(TransferRow row) {
    SessionKey key = new SessionKey(row.appId(), row.session());
    pump.pushProgress(key, () -> {
      TransferRow r = store.load(row.id());
      if (r == null || !TransferRow.RUNNING.equals(r.state())) {
        return null;
      }
      ObjectNode o = Json.object();
      o.put("session", key.id());
      o.put("type", "retrying");
      o.set("transfer", view.snapshot(r));
      return o;
    });
  }

  /** Records an attempt's outcome: completion (with its events), a retry time, or a challenge. On the caller's thread. */
  void record(TransferRow r, HttpAttempt.Outcome o) throws IOException {
    SessionKey key = new SessionKey(r.appId(), r.session());
    long id = r.id();
    Path part = r.tempFile() == null ? null : dir.resolve(r.tempFile());
    if (o instanceof HttpAttempt.Stopped) {
      return; // suspend, cancel or shutdown did the bookkeeping
    }
    if (!(o instanceof HttpAttempt.Retry)) {
      network.succeeded(id); // it got through: earlier failures are history
    }
    if (o instanceof HttpAttempt.Done d && r.isDownload()) {
      // the finisher syncs, moves and records finished downloads in batches (one flush for many small files)
      scheduler.finalizing(id);
      finisher.add(r, part, d.status(), d.bytes());
    } else if (o instanceof HttpAttempt.Done d) {
      if (Store.await(store.write(c -> events.completeTx(c, id, null, null, d.status(), d.bytes())))) {
        events.afterEvents(key, "transfers finished");
      }
    } else if (o instanceof HttpAttempt.Fail f) {
      if (f.code() == ErrorCode.INSUFFICIENT_SPACE && part != null) {
        // give the space back first: on a full disk the store needs it to record the failure
        Files.deleteIfExists(part);
      }
      if (Store.await(store.write(c -> events.completeTx(c, id, f.code(), f.message(), f.status(), -1)))) {
        if (part != null) {
          Files.deleteIfExists(part);
        }
        events.afterEvents(key, "transfers finished");
      }
    } else if (o instanceof HttpAttempt.Retry rt && network.needsNetwork(r.url()) && !conditions.online(true)) {
      // failed because the network went away: no failed attempt, no back-off; schedule() has it wait for a network
      log.info("transfer {}: {} while the device has no network; it waits for one", id, rt.reason());
      Store.await(store.waitForNetwork(id, rt.reason()));
    } else if (o instanceof HttpAttempt.Retry rt) {
      retry(r, rt);
    } else if (o instanceof HttpAttempt.Challenge ch) {
      challenge(r, key, ch);
    }
  }

  private void retry(TransferRow r, HttpAttempt.Retry rt) throws IOException {
    long id = r.id();
    RetryPolicy.Decision retry = RetryPolicy.afterFailure(r.attempts(), rt.madeProgress(), rt.retryAfter(),
        clock.now().toEpochMilli(), r.deadline());
    Duration delay = retry.delay();
    if (retry.timedOut()) {
      record(r, new HttpAttempt.Fail(ErrorCode.RESOURCE_TIMED_OUT, "the transfer did not finish within the session's"
          + " resource timeout; last problem: " + rt.reason(), 0));
      return;
    }
    log.info("transfer {}: {}; retrying in {} ms", id, rt.reason(), delay.toMillis());
    boolean mayBeTheNetwork = rt.transport() && network.needsNetwork(r.url());
    CompletableFuture<Integer> recorded;
    synchronized (network.failuresLock()) { // noted before its write is queued: a forgiveness is written after it
      if (mayBeTheNetwork) {
        network.noteCountedFailure(r, rt.madeProgress());
      }
      recorded = store.retryLater(id, retry.attempts(), retry.nextAttemptAt(), rt.reason());
    }
    Store.await(recorded);
    pushRetrying(r);
    if (mayBeTheNetwork && !conditions.online(false)) {
      // the device went offline while this was recorded; on the control executor, before this attempt's reschedule
      scheduler.execute(() -> network.forgiveRecentFailure(id));
    }
  }

  private void challenge(TransferRow r, SessionKey key, HttpAttempt.Challenge ch) {
    long id = r.id();
    boolean recorded = Store.await(store.write(c -> {
      TransferRow now = store.loadTx(c, id);
      if (now == null || !TransferRow.RUNNING.equals(now.state())) {
        return false;
      }
      store.challengeTx(c, id, ch.status());
      ObjectNode ev = Json.object();
      ev.set("transfer", view.snapshot(store.loadTx(c, id)));
      ObjectNode cj = ev.putObject("challenge");
      cj.put("status", ch.status());
      cj.put("scheme", ch.scheme());
      if (ch.realm() != null) {
        cj.put("realm", ch.realm());
      }
      cj.put("proxy", ch.proxy());
      cj.put("host", URI.create(now.url()).getHost());
      cj.put("previousFailureCount", now.challengeCount());
      events.addTx(c, key, "challenge", id, ev, null);
      return true;
    }));
    if (recorded) {
      pump.schedulePump(key);
      events.maybeWake(key, "authentication challenge");
    }
  }

  /** Stops every attempt and the threads; waits up to 5 s for the workers to let go. */
  void close() {
    closed = true;
    for (Running r : running.values()) {
      r.attempt.stop();
    }
    progressTimer.shutdownNow();
    workers.shutdown();
    flusher.shutdown();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
