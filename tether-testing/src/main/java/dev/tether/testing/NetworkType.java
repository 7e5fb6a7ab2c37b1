package dev.tether.testing;

/** The network a kit's daemon believes the device is on, if any ({@link TetherTestKit#conditions}). */
public enum NetworkType {
  /** An unmetered network: discretionary transfers may run (if on external power too). */
  UNMETERED("unmetered"),
  /** A metered network (a phone's data plan): discretionary transfers wait. */
  METERED("metered"),
  /**
   * No network at all: transfers to hosts other than loopback ({@code 127.0.0.1}, {@code localhost}) make no request
   * and wait for a network ({@code waitingFor} {@code network}); running ones stop and resume, with a ranged request
   * where the server allows, once the network is back. Discretionary transfers wait too.
   */
  NONE("none");

  private final String wire;

  NetworkType(String wire) {
    this.wire = wire;
  }

  String wire() {
    return wire;
  }
}
