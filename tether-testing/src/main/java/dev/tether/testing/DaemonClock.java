package dev.tether.testing;

import dev.tether.daemon.internal.time.TetherClock;
import java.time.Instant;

/**
 * The kit's {@link VirtualClock} as the daemon's clock, so that the public clock names no daemon type. Called on any
 * daemon thread; the virtual clock synchronizes itself.
 */
final class DaemonClock implements TetherClock {
  private final VirtualClock clock;

  DaemonClock(VirtualClock clock) {
    this.clock = clock;
  }

  @Override
  public Instant now() {
    return clock.now();
  }

  @Override
  public Timer schedule(Instant at, Runnable action) {
    Runnable cancel = clock.schedule(at, action);
    return cancel::run;
  }

  @Override
  public String toString() {
    return clock.toString();
  }
}
