package dev.tether.testing;

/** The network a kit's daemon believes the device is on ({@link TetherTestKit#conditions}). */
public enum NetworkType {
  /** An unmetered network: discretionary transfers may run (if on external power too). */
  UNMETERED("unmetered"),
  /** A metered network (a phone's data plan): discretionary transfers wait. */
  METERED("metered");

  private final String wire;

  NetworkType(String wire) {
    this.wire = wire;
  }

  String wire() {
    return wire;
  }
}
