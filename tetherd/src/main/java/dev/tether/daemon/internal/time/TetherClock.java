package dev.tether.daemon.internal.time;

import java.time.Instant;

/**
 * The daemon's time: every timer, budget window and allowance reads it, so that the test kit can run hours of
 * virtual time in milliseconds.
 */
public interface TetherClock {
  Instant now();

  /** Runs {@code action} once, at or after {@code at}. Cancelling a timer that already ran does nothing. */
  Timer schedule(Instant at, Runnable action);

  /** A scheduled action. */
  interface Timer {
    void cancel();
  }
}
