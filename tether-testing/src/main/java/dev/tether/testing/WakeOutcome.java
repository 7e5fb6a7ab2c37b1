package dev.tether.testing;

/** How a wake ended, as {@code tether timeline} shows it. */
public enum WakeOutcome {
  /** The wake is still going on. */
  RUNNING,
  /** Every task was completed. */
  COMPLETED,
  /** The allowance ran out: expiration handlers ran, the app was ended and charged. */
  EXPIRED,
  /** The app exited or could not start before completing its tasks. */
  CRASHED,
  /** The user or tetherd ended the wake. */
  KILLED,
  /** A process claimed a wake or an app tetherd does not know. */
  REFUSED
}
