package dev.tether.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.PriorityQueue;

/**
 * Time that moves only when the test says so. {@link #advance(Duration)} runs every timer that falls due, in order,
 * each at its own instant, and lets the daemon and the test apps finish what it started before the next one
 * (so an hour of budgets and wakes runs in milliseconds, deterministically).
 */
public final class VirtualClock {
  private record Entry(Instant at, long seq, Runnable action) {}

  private final PriorityQueue<Entry> timers = new PriorityQueue<>((a, b) -> {
    int c = a.at().compareTo(b.at());
    return c != 0 ? c : Long.compare(a.seq(), b.seq());
  });
  private Instant now;
  private long seq;
  private volatile Runnable settle = () -> {};

  /** A clock that starts at {@code start}. */
  public VirtualClock(Instant start) {
    this.now = start;
  }

  void settleWith(Runnable settle) {
    this.settle = settle;
  }

  /** The current virtual instant. */
  public synchronized Instant now() {
    return now;
  }

  /**
   * Runs {@code action} when {@link #advance} reaches {@code at} (the daemon's timers, through {@link DaemonClock});
   * returns what cancels it.
   */
  synchronized Runnable schedule(Instant at, Runnable action) {
    Entry e = new Entry(at, seq++, action);
    timers.add(e);
    return () -> {
      synchronized (VirtualClock.this) {
        timers.remove(e);
      }
    };
  }

  /**
   * Moves time forward by {@code duration}, running the timers that fall due on the way. Returns once the daemon
   * and the test apps are idle again. Do not call it from inside a task handler.
   */
  public void advance(Duration duration) {
    if (duration.isNegative()) {
      throw new IllegalArgumentException("time only moves forward: " + duration);
    }
    Instant target;
    synchronized (this) {
      target = now.plus(duration);
    }
    settle.run();
    while (true) {
      Entry e;
      synchronized (this) {
        e = timers.peek();
        if (e == null || e.at().isAfter(target)) {
          break;
        }
        timers.poll();
        if (e.at().isAfter(now)) {
          now = e.at();
        }
      }
      e.action().run();
      settle.run();
    }
    synchronized (this) {
      if (target.isAfter(now)) {
        now = target;
      }
    }
    settle.run();
  }

  /** The instant of the next timer, if any (what the daemon waits for). */
  public synchronized java.util.Optional<Instant> nextTimer() {
    Entry e = timers.peek();
    return e == null ? java.util.Optional.empty() : java.util.Optional.of(e.at());
  }

  @Override
  public synchronized String toString() {
    return "VirtualClock[" + now + ", " + timers.size() + " timer(s)]";
  }
}
