package dev.tether.protocol.wire;

/** Operations on the daemon itself. Immutable; any thread. */
public enum DaemonOp implements Operation {
  /** Version, pid, home and uptime of the running daemon. */
  STATUS("daemon.status"),
  /** Stops the daemon after answering with its pid. */
  STOP("daemon.stop");

  private final String wire;

  DaemonOp(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
