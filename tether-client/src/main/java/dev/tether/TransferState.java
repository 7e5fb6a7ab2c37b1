package dev.tether;

/** Where a {@link Transfer} is in its life (Apple: {@code URLSessionTask.State}). */
public enum TransferState {
  /** Running, or waiting to run (begin date, back-off, conditions, a free connection, an answer to a challenge). */
  RUNNING,
  /** Suspended by the app; {@link Transfer#resume()} continues it. */
  SUSPENDED,
  /** Cancel was asked for; the completion event has not arrived yet. */
  CANCELLING,
  /** Finished, with or without an error. */
  COMPLETED
}
