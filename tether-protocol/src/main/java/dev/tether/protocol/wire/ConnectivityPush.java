package dev.tether.protocol.wire;

/** Pushes from tetherd to an app's connectivity session. Immutable; any thread. */
public enum ConnectivityPush implements Push {
  /** The session's state changed (reachability, pairing, activation). */
  STATE("cx.state"),
  /** A queued transfer finished: delivered, or failed for good. */
  FINISHED("cx.finished"),
  /** The paired device refused a queued transfer for now; it stays queued. */
  BLOCKED("cx.blocked"),
  /** Bytes of a file sent so far. */
  PROGRESS("cx.progress"),
  /** Received items for the app's delegate, in order. */
  DELIVERIES("cx.deliveries"),
  /** A live message from the counterpart app. */
  MESSAGE("cx.message");

  private final String wire;

  ConnectivityPush(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
