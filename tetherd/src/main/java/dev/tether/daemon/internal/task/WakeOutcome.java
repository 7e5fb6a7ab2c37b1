package dev.tether.daemon.internal.task;

/** Immutable, any thread: how a wake ended. */
public enum WakeOutcome {
  /** Every task was completed (the app was then asked to exit, if tetherd launched it). */
  COMPLETED,
  /** The allowance ran out with tasks not completed: expiration handlers ran, then the app was ended and charged. */
  EXPIRED,
  /** The app exited, or could not be started, before completing its tasks. */
  CRASHED,
  /** The user or tetherd ended the wake (force quit, stop, daemon restart). */
  KILLED,
  /** A process claimed a wake or an app that tetherd does not know. */
  REFUSED
}
