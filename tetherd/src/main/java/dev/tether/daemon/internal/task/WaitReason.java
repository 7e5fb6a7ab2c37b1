package dev.tether.daemon.internal.task;

/** Immutable, any thread: why a pending background task is not delivered yet. */
public enum WaitReason {
  /** An application refresh whose preferred date has not come. */
  SCHEDULED,
  /** The app used its wakes of the rolling hour; waits until one leaves the window. */
  BUDGET,
  /** URL-session wakes are kept at least the app's spacing (15 minutes by default) apart. */
  SPACING,
  /** The app used its daily background runtime (overruns included). */
  RUNTIME,
  /** Application refresh is not delivered while the app is in the foreground. */
  FOREGROUND,
  /** The user force-quit the app; it is not launched until it runs in the foreground again. */
  FORCE_QUIT,
  /** No app with this id is registered, so it cannot be launched. */
  UNREGISTERED,
  /** A previous wake for this task failed; retried after a back-off. */
  RETRY,
  /** Wakes are held (test kit: conditions not met). */
  CONDITIONS,
  /** The app runs but has no task handler, or its previous wake is ending; delivered when that changes. */
  APP_BUSY
}
