package dev.tether.testing;

/** Why a background task waits, as {@code tether timeline} shows it. */
public enum WaitReason {
  /** An application refresh before its preferred date. */
  SCHEDULED,
  /** The app used its wakes of the rolling hour. */
  BUDGET,
  /** URL-session wakes are kept apart (15 minutes by default). */
  SPACING,
  /** The app used its daily background runtime. */
  RUNTIME,
  /** Application refresh is not delivered while the app is in the foreground. */
  FOREGROUND,
  /** The user force-quit the app. */
  FORCE_QUIT,
  /** The app is not registered. */
  UNREGISTERED,
  /** A previous wake for the task failed; it is retried after a back-off. */
  RETRY,
  /** Wakes are held ({@link TetherTestKit#holdWakes(boolean)}). */
  CONDITIONS,
  /** The app runs without a task handler, or its previous wake is ending. */
  APP_BUSY,
  /** Nothing holds it back; it is about to be delivered. */
  READY
}
