package dev.tether;

import java.nio.file.Path;

/** How {@link Tether#connect(String, TetherOptions)} finds its daemon. Immutable. */
public final class TetherOptions {
  private final Path home;
  private final boolean startDaemon;

  private TetherOptions(Path home, boolean startDaemon) {
    this.home = home;
    this.startDaemon = startDaemon;
  }

  /** The default home ({@code $TETHER_HOME}, else the XDG data folder); starts the daemon when needed. */
  public static TetherOptions defaults() {
    return new TetherOptions(null, true);
  }

  /** The same options with another home folder. */
  public TetherOptions home(Path home) {
    return new TetherOptions(home, startDaemon);
  }

  /** The same options, starting the daemon when none runs ({@code true}, the default) or failing instead. */
  public TetherOptions startDaemon(boolean start) {
    return new TetherOptions(home, start);
  }

  /** The home folder, or null for the default one. */
  public Path home() {
    return home;
  }

  /** Whether connecting starts the daemon when none runs. */
  public boolean startDaemon() {
    return startDaemon;
  }
}
