package dev.tether.daemon.internal.transfer;

import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.time.TetherClock;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the transfer control executor ({@code tether-transfer-ctl}), through {@link Scheduler#execute}; the one
 * exception is {@link #noteCountedFailure}, which an attempt's worker calls under {@link #failuresLock()} so that a
 * forgiveness is always written after the failure it forgives. Watches whether the device is online while transfers
 * wait for a network or run over one: stops attempts to remote hosts when it goes away, starts what waited when it
 * comes back, and takes back the connection failures that were the network going away.
 */
final class NetworkWatch {
  private static final Logger log = LoggerFactory.getLogger(NetworkWatch.class);
  /**
   * Test-only JVM system property of tetherd: comma-separated host names (as written in URLs) that tetherd treats as
   * remote hosts, which need a network, although they resolve to loopback. End-to-end tests use it to exercise "no
   * network" against a loopback test server; it has no other use.
   */
  static final String REMOTE_HOSTS_PROPERTY = "tetherd.testing.remoteHosts";
  /** How often whether the device is online is checked again while a transfer waits for, or runs over, a network. */
  private static final Duration NETWORK_RECHECK = Duration.ofSeconds(5);
  /**
   * A connection failure this recent when the device is seen offline is taken for the network going away (which the
   * check every {@link #NETWORK_RECHECK} may notice that late) rather than as a failed attempt.
   */
  static final Duration OFFLINE_GRACE = NETWORK_RECHECK.multipliedBy(2);

  /** A failed attempt counted at {@code atNanos}, and the transfer's count of failed attempts before it. */
  private record CountedFailure(long atNanos, int attemptsBefore) {}

  private final TetherClock clock;
  private final TransferStore store;
  private final Conditions conditions;
  private final Scheduler scheduler;
  /** Test-only: host names tetherd treats as needing a network although they are loopback (see {@link #REMOTE_HOSTS_PROPERTY}). */
  private final Set<String> treatedAsRemote = remoteHosts(System.getProperty(REMOTE_HOSTS_PROPERTY, ""));
  /** Which hosts are this machine (transfers to them need no network). */
  private final LocalHosts localHosts;
  /** Recent connection failures counted as failed attempts, per transfer, oldest first (see {@link #OFFLINE_GRACE}). */
  private final Map<Long, Deque<CountedFailure>> recentFailures = new ConcurrentHashMap<>();
  /** Transfers to non-loopback hosts that wait because the device has no network. */
  private final Set<Long> waitingNetwork = ConcurrentHashMap.newKeySet();
  /** Set while a network re-check timer is armed. */
  private final AtomicBoolean networkWatch = new AtomicBoolean();
  private AttemptRunner runner;
  private volatile boolean closed;

  NetworkWatch(TetherClock clock, TransferStore store, Conditions conditions, Scheduler scheduler) {
    this.clock = clock;
    this.store = store;
    this.conditions = conditions;
    this.scheduler = scheduler;
    // a name found to be this machine needs no network
    this.localHosts = new LocalHosts(java.net.InetAddress::getAllByName, host -> scheduler.execute(this::recheckWaitingForNetwork));
  }

  void wire(AttemptRunner runner) {
    this.runner = runner;
  }

  private static Set<String> remoteHosts(String property) {
    Set<String> out = new HashSet<>();
    for (String h : property.split(",")) {
      if (!h.isBlank()) {
        out.add(h.trim().toLowerCase(Locale.ROOT));
      }
    }
    if (!out.isEmpty()) {
      log.warn("test-only {} is set: treating {} as remote hosts that need a network", REMOTE_HOSTS_PROPERTY, out);
    }
    return Set.copyOf(out);
  }

  /**
   * Whether a transfer to {@code url} needs a network: every host but this machine ({@link LocalHosts}). A name whose
   * lookup has not ended yet needs one for now; when the lookup ends, transfers waiting for a network are looked at
   * again. Any thread.
   */
  boolean needsNetwork(String url) {
    String host = URI.create(url).getHost();
    if (host == null) {
      return true;
    }
    if (treatedAsRemote.contains(host.toLowerCase(Locale.ROOT))) {
      return true;
    }
    return !Boolean.TRUE.equals(localHosts.isLocal(host));
  }

  /** The transfer waits for a network (the scheduler saw the device offline). */
  void waitFor(long id) {
    waitingNetwork.add(id);
    watchNetwork();
    if (recentFailures.containsKey(id)) {
      scheduler.execute(() -> forgiveRecentFailure(id)); // seen offline here first: its last failures were that
    }
  }

  /** The transfer no longer waits for a network. */
  void stopWaiting(long id) {
    waitingNetwork.remove(id);
  }

  boolean isWaiting(long id) {
    return waitingNetwork.contains(id);
  }

  int waiting() {
    return waitingNetwork.size();
  }

  /** The attempt got through: its earlier failures are history. Any thread. */
  void succeeded(long id) {
    recentFailures.remove(id);
  }

  /** The lock under which a counted failure is noted and its write queued (a forgiveness is written after it). */
  Object failuresLock() {
    return recentFailures;
  }

  /** Schedules again what waits for a network (some of it may turn out to need none). */
  private void recheckWaitingForNetwork() {
    for (long id : List.copyOf(waitingNetwork)) {
      scheduler.schedule(id);
    }
  }

  /**
   * Notes a connection failure just counted as a failed attempt of transfer {@code r}, so that it can be taken back
   * if the device is seen offline within {@link #OFFLINE_GRACE}; arms a network check so that is noticed. Runs on the
   * attempt's worker, under {@link #failuresLock()}.
   */
  void noteCountedFailure(TransferRow r, boolean madeProgress) {
    assert Thread.holdsLock(recentFailures);
    long now = System.nanoTime();
    recentFailures.compute(r.id(), (id, q) -> {
      Deque<CountedFailure> d = q != null ? q : new ArrayDeque<>();
      if (madeProgress) {
        d.clear(); // the count started again at 0: older failures no longer count
      }
      d.addLast(new CountedFailure(now, madeProgress ? 0 : r.attempts()));
      return d;
    });
    watchNetwork();
  }

  /** Forgets failures older than {@link #OFFLINE_GRACE}; true while some recent one is left. */
  private boolean pruneRecentFailures() {
    long cutoff = System.nanoTime() - OFFLINE_GRACE.toNanos();
    synchronized (recentFailures) { // the deques are changed only under this lock
      for (Deque<CountedFailure> q : recentFailures.values()) {
        q.removeIf(f -> f.atNanos() < cutoff);
      }
      recentFailures.values().removeIf(Deque::isEmpty);
      return !recentFailures.isEmpty();
    }
  }

  /**
   * The device is seen offline: connection failures of the last {@link #OFFLINE_GRACE} were the network going away
   * (they race the network check), not failed attempts. Each such transfer gets back its count of failed attempts from
   * before the first of them and drops its back-off, and waits for a network like the rest.
   */
  private void forgiveRecentFailures() {
    pruneRecentFailures();
    for (long id : List.copyOf(recentFailures.keySet())) {
      forgiveRecentFailure(id);
    }
  }

  /** Takes back the transfer's recent failures if the first is within {@link #OFFLINE_GRACE}; schedules it again. */
  void forgiveRecentFailure(long id) {
    Deque<CountedFailure> q;
    synchronized (recentFailures) {
      q = recentFailures.remove(id);
    }
    CountedFailure first = q == null ? null : q.peekFirst();
    if (first == null || System.nanoTime() - first.atNanos() > OFFLINE_GRACE.toNanos()) {
      return;
    }
    int changed = Store.await(store.forgive(id, first.attemptsBefore()));
    if (changed > 0) {
      log.info("transfer {}: the device has no network; the connection failure(s) of the last {} s were the network going"
          + " away, not failed attempts: it waits for a network", id, OFFLINE_GRACE.toSeconds());
      scheduler.cancelTimer(id);
      scheduler.schedule(id);
    }
  }

  /** Arms one re-check of the network {@link #NETWORK_RECHECK} from now, unless one is armed already. Any thread. */
  void watchNetwork() {
    if (closed || !networkWatch.compareAndSet(false, true)) {
      return;
    }
    clock.schedule(clock.now().plus(NETWORK_RECHECK), () -> {
      networkWatch.set(false);
      if (closed) {
        return;
      }
      scheduler.execute(this::networkTick);
    });
  }

  /** Reads the network again while a transfer waits for one or runs over one; keeps watching while that lasts. */
  private void networkTick() {
    if (closed || (waitingNetwork.isEmpty() && !remoteRunning() && !pruneRecentFailures())) {
      return;
    }
    networkCheck(conditions.online(true));
    if (!waitingNetwork.isEmpty() || remoteRunning() || pruneRecentFailures()) {
      watchNetwork();
    }
  }

  private boolean remoteRunning() {
    for (AttemptRunner.Running run : runner.running()) {
      if (needsNetwork(run.row.url())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Acts on whether the device is online: without a network, attempts to remote hosts stop (their bytes stay for a
   * ranged resume, and the stop is no failed attempt) and wait; with one, what waited for it starts at once.
   */
  void networkCheck(boolean online) {
    if (!online) {
      for (AttemptRunner.Running run : runner.running()) {
        if (needsNetwork(run.row.url()) && !run.attempt.isStopped()) {
          long bytes = run.bytes;
          log.info("transfer {}: the device has no network; the attempt stops and the transfer waits for a network", run.row.id());
          if (bytes >= 0) { // what the transfer shows while it waits (the part file is what a resume goes by)
            Store.await(store.recordBytes(run.row.id(), bytes));
          }
          run.attempt.stop();
        }
      }
      forgiveRecentFailures();
      if (remoteRunning()) {
        watchNetwork();
      }
    } else {
      recheckWaitingForNetwork();
    }
  }

  void close() {
    closed = true;
    localHosts.close();
  }
}
