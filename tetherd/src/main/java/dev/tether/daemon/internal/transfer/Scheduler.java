package dev.tether.daemon.internal.transfer;

import dev.tether.daemon.internal.time.TetherClock;
import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs on the transfer control executor ({@code tether-transfer-ctl}, serial); other threads hand it work with
 * {@link #later}. Decides when each transfer runs next: at a timer (earliest begin date, back-off), when the device
 * has a network ({@link NetworkWatch}) or the conditions a discretionary session waits for, or now, through its
 * session's connections per host ({@link HostSlots}). Its sets are concurrent so that snapshots, read on any thread,
 * can say why a transfer waits.
 */
final class Scheduler {
  private final TetherClock clock;
  private final TransferStore store;
  private final Sessions sessions;
  private final Conditions conditions;
  private final ExecutorService control;
  private final HostSlots slots = new HostSlots();
  private final Map<Long, TetherClock.Timer> timers = new ConcurrentHashMap<>();
  /** Transfers that have a slot or wait for one (a worker removes its own when its attempt ends). */
  private final Set<Long> queued = ConcurrentHashMap.newKeySet();
  private final Set<Long> waitingConditions = ConcurrentHashMap.newKeySet();
  /** Downloads whose body is complete and that wait for the finisher (sync, move, commit). */
  private final Set<Long> finalizing = ConcurrentHashMap.newKeySet();
  private NetworkWatch network;
  private AttemptRunner runner;
  private volatile boolean closed;

  Scheduler(TetherClock clock, TransferStore store, Sessions sessions, Conditions conditions, ExecutorService control) {
    this.clock = clock;
    this.store = store;
    this.sessions = sessions;
    this.conditions = conditions;
    this.control = control;
  }

  void wire(NetworkWatch network, AttemptRunner runner) {
    this.network = network;
    this.runner = runner;
  }

  /** Hands {@link #schedule(long)} to the control executor (dropped when the daemon stops). */
  void later(long id) {
    execute(() -> schedule(id));
  }

  /** Runs {@code work} on the control executor unless the daemon is stopping. */
  void execute(Runnable work) {
    try {
      control.execute(work);
    } catch (RejectedExecutionException e) {
      // the daemon is stopping
    }
  }

  /** Decides when the transfer runs next: now (via its host slot), at a timer, when conditions allow, or never. */
  void schedule(long id) {
    if (closed || queued.contains(id) || finalizing.contains(id)) {
      return;
    }
    schedule(id, store.load(id));
  }

  /** {@link #schedule(long)} with the transfer's row already at hand (just created). */
  void schedule(long id, TransferRow r) {
    if (closed || queued.contains(id) || finalizing.contains(id)) {
      return;
    }
    if (r == null || !TransferRow.RUNNING.equals(r.state()) || !TransferRow.READY.equals(r.phase())) {
      return;
    }
    SessionConfig cfg = sessions.config(new SessionKey(r.appId(), r.session()));
    long now = clock.now().toEpochMilli();
    long at = Math.max(r.earliestBegin() == null ? 0 : r.earliestBegin(), r.nextAttemptAt());
    if (at > now) {
      cancelTimer(id);
      timers.put(id, clock.schedule(Instant.ofEpochMilli(at), () -> {
        timers.remove(id);
        later(id);
      }));
      return;
    }
    // past its resource timeout a transfer waits no more: its attempt fails it at once (RESOURCE_TIMED_OUT)
    boolean expired = now >= r.deadline();
    // the host first: transfers to this machine never make the daemon read the system's network state
    if (!expired && network.needsNetwork(r.url()) && !conditions.online(false)) {
      waitingConditions.remove(id);
      network.waitFor(id);
      deadlineTimer(id, r.deadline());
      return;
    }
    network.stopWaiting(id);
    if (!expired && cfg.discretionary() && !conditions.goodForDiscretionary()) {
      waitingConditions.add(id);
      deadlineTimer(id, r.deadline());
      return;
    }
    waitingConditions.remove(id);
    cancelTimer(id);
    URI u = URI.create(r.url());
    String slotKey = r.appId() + "|" + r.session() + "|" + u.getHost() + ":" + u.getPort();
    queued.add(id);
    if (slots.take(slotKey, id, cfg.maxConnectionsPerHost())) {
      startAttempt(id, slotKey, r);
    }
  }

  /** Schedules again every transfer that waits for the conditions of a discretionary session. */
  void recheckConditions() {
    for (long id : List.copyOf(waitingConditions)) {
      schedule(id);
    }
  }

  /** How many transfers wait for conditions. */
  int waitingForConditions() {
    return waitingConditions.size();
  }

  boolean isWaitingForConditions(long id) {
    return waitingConditions.contains(id);
  }

  boolean isQueued(long id) {
    return queued.contains(id);
  }

  /** A suspended or cancelled transfer waits for nothing any more. */
  void forget(long id) {
    cancelTimer(id);
    waitingConditions.remove(id);
    network.stopWaiting(id);
  }

  /** A finished download goes to the finisher: nothing schedules it until {@link #finalized}. Any thread. */
  void finalizing(long id) {
    finalizing.add(id);
    queued.remove(id); // no longer queued, and finalizing keeps it from being scheduled until the finisher is done
  }

  /** The finisher is done with the download. Any thread. */
  void finalized(long id) {
    finalizing.remove(id);
  }

  /** The attempt ended (on its worker): its slot goes to the next waiter, which starts at once on this worker's pool. */
  void attemptEnded(long id, String slotKey) {
    queued.remove(id);
    Long next = slots.release(slotKey);
    if (next != null) {
      startAttempt(next, slotKey, null); // it waited: read its row when it starts
    }
  }

  private void startAttempt(long id, String slotKey, TransferRow row) {
    if (!runner.start(id, slotKey, row)) {
      queued.remove(id);
    }
  }

  /** Has {@link #schedule(long)} look at a waiting transfer again at its deadline, so waiting never outlasts it. */
  private void deadlineTimer(long id, long deadline) {
    if (timers.containsKey(id)) {
      return;
    }
    timers.put(id, clock.schedule(Instant.ofEpochMilli(deadline), () -> {
      timers.remove(id);
      later(id);
    }));
  }

  void cancelTimer(long id) {
    TetherClock.Timer t = timers.remove(id);
    if (t != null) {
      t.cancel();
    }
  }

  void close() {
    closed = true;
    for (TetherClock.Timer t : timers.values()) {
      t.cancel();
    }
  }
}
