package dev.tether;

/** Where a {@link ConnectivitySession} is in its life (Apple: {@code WCSessionActivationState}). */
public enum ActivationState {
  /** {@link ConnectivitySession#activate()} has not been called, or the session was deactivated. */
  NOT_ACTIVATED,
  /** The active companion is changing: finish what is in flight; nothing new can be sent. */
  INACTIVE,
  /** The session can send and receive. */
  ACTIVATED
}
