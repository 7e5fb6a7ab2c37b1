package dev.tether;

import java.nio.file.Path;

/** How {@link Tether#connect(String, TetherOptions)} finds its daemon. Immutable. */
public final class TetherOptions {
  private final Path home;
  private final boolean startDaemon;
  private final String kind;

  private TetherOptions(Path home, boolean startDaemon, String kind) {
    this.home = home;
    this.startDaemon = startDaemon;
    this.kind = kind;
  }

  /** The default home ({@code $TETHER_HOME}, else the XDG data folder); starts the daemon when needed. */
  public static TetherOptions defaults() {
    return new TetherOptions(null, true, "app");
  }

  /** The same options with another home folder. */
  public TetherOptions home(Path home) {
    return new TetherOptions(home, startDaemon, kind);
  }

  /** The same options, starting the daemon when none runs ({@code true}, the default) or failing instead. */
  public TetherOptions startDaemon(boolean start) {
    return new TetherOptions(home, start, kind);
  }

  /** For Tether's own tools: what kind of client connects ({@code app} or {@code cli}). */
  public TetherOptions kind(String kind) {
    return new TetherOptions(home, startDaemon, kind);
  }

  public Path home() {
    return home;
  }

  public boolean startDaemon() {
    return startDaemon;
  }

  public String kind() {
    return kind;
  }
}
