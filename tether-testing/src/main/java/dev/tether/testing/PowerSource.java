package dev.tether.testing;

/** The power source a kit's daemon believes the device runs on ({@link TetherTestKit#conditions}). */
public enum PowerSource {
  /** On mains or USB power: discretionary transfers may run (if the network is unmetered too). */
  EXTERNAL("external"),
  /** On battery: discretionary transfers wait. */
  BATTERY("battery");

  private final String wire;

  PowerSource(String wire) {
    this.wire = wire;
  }

  String wire() {
    return wire;
  }
}
