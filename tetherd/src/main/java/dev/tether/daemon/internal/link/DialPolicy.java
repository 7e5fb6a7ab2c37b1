package dev.tether.daemon.internal.link;

import java.util.random.RandomGenerator;

/**
 * Pure, on virtual time; owned by one peer's dialer and used only on its serial executor: when to dial the peer, and
 * which way. A failed dial waits a back-off of {@value #MIN_BACKOFF_MILLIS} ms doubling up to the maximum, plus a
 * jitter of up to half of it. With a relay set, the dial goes through the relay after
 * {@value #DIRECT_FAILURES_BEFORE_RELAY} direct dials in a row failed, and direct again after
 * {@value #RELAY_FAILURES_BEFORE_DIRECT} relayed ones failed; a link that runs through the relay tries the direct path
 * every probe interval. Times are milliseconds on any monotonic clock.
 */
final class DialPolicy {
  static final long MIN_BACKOFF_MILLIS = 100;
  static final int DIRECT_FAILURES_BEFORE_RELAY = 2;
  static final int RELAY_FAILURES_BEFORE_DIRECT = 2;
  /** No time: nothing is due. */
  static final long NEVER = Long.MAX_VALUE;

  /** The way a dial goes. */
  enum Route {
    DIRECT,
    RELAY
  }

  /** The state of the peer's link when the dialer looks. */
  enum LinkState {
    DOWN,
    UP_DIRECT,
    UP_RELAYED
  }

  /** What the dialer does next. */
  enum Action {
    /** Dial the peer's address. */
    DIAL_DIRECT,
    /** Dial through the relay. */
    DIAL_RELAY,
    /** The link runs through the relay: try the direct path beside it. */
    PROBE_DIRECT,
    /** Nothing until {@link Decision#at}, or until an event (a link closing, a relay change) wakes the dialer. */
    WAIT
  }

  /** The next step: {@code at} is when a {@link Action#WAIT} ends ({@link #NEVER}: only an event ends it). */
  record Decision(Action action, long at) {}

  private final long maxBackoffMillis;
  private final long directProbeMillis;
  private final RandomGenerator random;
  private long backoff = MIN_BACKOFF_MILLIS;
  private int directFailures;
  private int relayFailures;
  private long notBefore;
  private long probeAt = NEVER;

  /** {@code maxBackoffMillis} is raised to at least {@value #MIN_BACKOFF_MILLIS}. */
  DialPolicy(long maxBackoffMillis, long directProbeMillis, RandomGenerator random) {
    this.maxBackoffMillis = Math.max(MIN_BACKOFF_MILLIS, maxBackoffMillis);
    this.directProbeMillis = directProbeMillis;
    this.random = random;
  }

  /** What to do at {@code now}, with the link in state {@code link} and a relay set or not. */
  Decision next(long now, LinkState link, boolean relaySet) {
    switch (link) {
      case UP_DIRECT -> {
        probeAt = NEVER;
        return new Decision(Action.WAIT, NEVER);
      }
      case UP_RELAYED -> {
        if (probeAt == NEVER) {
          probeAt = now + directProbeMillis;
        }
        return now >= probeAt ? new Decision(Action.PROBE_DIRECT, now) : new Decision(Action.WAIT, probeAt);
      }
      default -> {
        probeAt = NEVER;
        if (now < notBefore) {
          return new Decision(Action.WAIT, notBefore);
        }
        return new Decision(route(relaySet) == Route.RELAY ? Action.DIAL_RELAY : Action.DIAL_DIRECT, now);
      }
    }
  }

  /** The way the next dial goes. */
  Route route(boolean relaySet) {
    return relaySet && directFailures >= DIRECT_FAILURES_BEFORE_RELAY && relayFailures < RELAY_FAILURES_BEFORE_DIRECT
        ? Route.RELAY : Route.DIRECT;
  }

  /** A dial that went {@code route} made a link at {@code now}. */
  void dialed(Route route, long now) {
    if (route == Route.RELAY) {
      relayFailures = 0;
      probeAt = now + directProbeMillis;
    } else {
      directFailures = 0;
      relayFailures = 0;
      probeAt = NEVER;
    }
    backoff = MIN_BACKOFF_MILLIS;
    notBefore = now;
  }

  /** A dial that went {@code route} failed at {@code now}; returns when the next may start. */
  long failed(Route route, long now) {
    if (route == Route.RELAY) {
      relayFailures++;
    } else {
      directFailures++;
      relayFailures = 0;
    }
    notBefore = now + backoff + random.nextLong(backoff / 2 + 1);
    backoff = Math.min(maxBackoffMillis, backoff * 2);
    return notBefore;
  }

  /** The direct probe beside a relayed link ended at {@code now}: it moved the link ({@code ok}) or not. */
  void probed(boolean ok, long now) {
    if (ok) {
      directFailures = 0;
      probeAt = NEVER;
    } else {
      probeAt = now + directProbeMillis;
    }
  }

  /** The relay was set, changed or cleared: the next dial need not wait out the back-off. */
  void relayChanged(long now) {
    notBefore = Math.min(notBefore, now);
  }

  /** The pause the next failure will wait (before its jitter). */
  long backoff() {
    return backoff;
  }
}
