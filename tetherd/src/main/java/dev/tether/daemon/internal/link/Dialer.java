package dev.tether.daemon.internal.link;

import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.link.DialPolicy.Decision;
import dev.tether.daemon.internal.link.DialPolicy.LinkState;
import dev.tether.daemon.internal.link.DialPolicy.Route;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.relay.RelayTunnel;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one serial executor per peer ({@code tether-link-dial-} and the first 8 characters of its fingerprint), which
 * owns the peer's {@link DialPolicy} and runs its blocking dials; others hand it work with {@link #wake}, {@link #add}
 * and {@link #relayChanged}: a link closing, a peer added, the relay changed. It keeps a link up to each peer this
 * daemon dials (the side that ran {@code pair connect}). The policy's back-off and direct probes are wake-ups
 * scheduled on the link timer ({@code tether-link-timers}); nothing polls.
 */
final class Dialer implements AutoCloseable, LinkTable.Events {
  private static final Logger log = LoggerFactory.getLogger(Dialer.class);

  private final PeerDirectory directory;
  private final LinkTable links;
  private final LinkOpener opener;
  private final Supplier<RelayTunnel> relay;
  private final DialFailures failures;
  private final ScheduledExecutorService timers;
  private final long maxBackoffMillis;
  private final long directProbeMillis;
  private final Map<String, PeerDialer> dialers = new ConcurrentHashMap<>();
  private volatile boolean closed;

  Dialer(PeerDirectory directory, LinkTable links, LinkOpener opener, Supplier<RelayTunnel> relay,
      DialFailures failures, ScheduledExecutorService timers, long maxBackoffMillis, long directProbeMillis) {
    this.directory = directory;
    this.links = links;
    this.opener = opener;
    this.relay = relay;
    this.failures = failures;
    this.timers = timers;
    this.maxBackoffMillis = maxBackoffMillis;
    this.directProbeMillis = directProbeMillis;
  }

  /** Starts dialing {@code peer} (afresh, with a new policy, if it was dialed already). */
  void add(String peer) {
    PeerDialer d = new PeerDialer(peer);
    PeerDialer old = dialers.put(peer, d);
    if (old != null) {
      old.stop();
    }
    d.wake(false);
  }

  /** Stops dialing {@code peer} (unpaired); a dial under way is interrupted where it can be. */
  void remove(String peer) {
    PeerDialer d = dialers.remove(peer);
    if (d != null) {
      d.stop();
    }
    failures.clear(peer);
  }

  /** Looks at {@code peer}'s link again. */
  void wake(String peer) {
    PeerDialer d = dialers.get(peer);
    if (d != null) {
      d.wake(false);
    }
  }

  /** The relay was set, changed or cleared: every dialer looks again, without waiting out its back-off. */
  void relayChanged() {
    for (PeerDialer d : List.copyOf(dialers.values())) {
      d.wake(true);
    }
  }

  @Override
  public void up(String peer) {
    failures.clear(peer);
  }

  @Override
  public void closed(String peer) {
    wake(peer);
  }

  @Override
  public void close() {
    closed = true;
    for (PeerDialer d : List.copyOf(dialers.values())) {
      d.stop();
    }
  }

  private static long now() {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime());
  }

  /** One peer's dialer: its state is touched only on {@link #exec}. */
  private final class PeerDialer {
    final String fp;
    final ExecutorService exec;
    final DialPolicy policy;
    volatile ScheduledFuture<?> wakeUp;
    volatile boolean stopped;

    PeerDialer(String fp) {
      this.fp = fp;
      this.exec = Threads.serial("tether-link-dial-" + fp.substring(0, 8));
      this.policy = new DialPolicy(maxBackoffMillis, directProbeMillis, new Random());
    }

    void wake(boolean relayChanged) {
      if (stopped || closed) {
        return;
      }
      try {
        exec.execute(() -> {
          if (relayChanged) {
            policy.relayChanged(now());
          }
          run();
        });
      } catch (RejectedExecutionException e) {
        // stopped meanwhile
      }
    }

    void stop() {
      stopped = true;
      exec.shutdownNow();
      ScheduledFuture<?> w = wakeUp;
      if (w != null) {
        w.cancel(false);
      }
    }

    /** Does what the policy says until it says to wait, then schedules the wake-up that ends the wait. */
    private void run() {
      while (!stopped && !closed) {
        Peer p = directory.get(fp);
        if (p == null) {
          return;
        }
        RelayTunnel r = relay.get();
        long now = now();
        Decision d = policy.next(now, state(), r != null);
        switch (d.action()) {
          case DIAL_DIRECT -> dial(p, Route.DIRECT, null);
          case DIAL_RELAY -> dial(p, Route.RELAY, r);
          case PROBE_DIRECT -> policy.probed(probeDirect(p), now());
          case WAIT -> {
            schedule(d.at(), now);
            return;
          }
        }
      }
    }

    private LinkState state() {
      if (!links.isUp(fp)) {
        return LinkState.DOWN;
      }
      return LinkManager.RELAY.equals(links.via(fp)) ? LinkState.UP_RELAYED : LinkState.UP_DIRECT;
    }

    private void dial(Peer p, Route route, RelayTunnel r) {
      try {
        if (route == Route.RELAY) {
          opener.relayed(p, r);
        } else {
          opener.direct(p);
        }
        policy.dialed(route, now());
      } catch (IOException | RuntimeException e) {
        if (route == Route.RELAY) {
          log.debug("dialing peer {} through the relay failed: {}", fp, e.toString());
        } else {
          log.debug("dialing peer {} at {} failed: {}", fp, p.address(), e.toString());
        }
        policy.failed(route, now());
        if (!stopped) {
          failures.note(p, e, route == Route.RELAY);
        }
      }
    }

    /** While the link runs through the relay: tries the direct path, and moves the link there when it works. */
    private boolean probeDirect(Peer p) {
      try {
        opener.direct(p);
        return true;
      } catch (IOException | RuntimeException e) {
        log.debug("peer {} is still not reachable directly: {}", fp, e.toString());
        return false;
      }
    }

    private void schedule(long at, long now) {
      ScheduledFuture<?> w = wakeUp;
      if (w != null) {
        w.cancel(false);
        wakeUp = null;
      }
      if (at != DialPolicy.NEVER && !stopped && !closed) {
        try {
          wakeUp = timers.schedule(() -> wake(false), Math.max(0, at - now), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
          // the link manager closed
        }
      }
    }
  }
}
