package dev.tether.protocol;

import java.nio.file.Path;
import java.util.Map;

/** Where a Tether home is and what lives in it. */
public final class TetherPaths {
  private TetherPaths() {}

  /**
   * The home folder: the explicit one if given, else {@code $TETHER_HOME}, else {@code $XDG_DATA_HOME/tether},
   * else {@code ~/.local/share/tether}.
   */
  public static Path resolveHome(Path explicit, Map<String, String> env) {
    if (explicit != null) {
      return explicit.toAbsolutePath().normalize();
    }
    String home = env.get(Protocol.ENV_HOME);
    if (home != null && !home.isBlank()) {
      return Path.of(home).toAbsolutePath().normalize();
    }
    String xdg = env.get("XDG_DATA_HOME");
    if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
      return Path.of(xdg, "tether");
    }
    return Path.of(System.getProperty("user.home"), ".local", "share", "tether");
  }

  public static Path resolveHome(Path explicit) {
    return resolveHome(explicit, System.getenv());
  }

  public static Path socket(Path home) {
    return home.resolve("tetherd.sock");
  }

  public static Path database(Path home) {
    return home.resolve("tether.db");
  }

  public static Path lockFile(Path home) {
    return home.resolve("tetherd.lock");
  }

  public static Path pidFile(Path home) {
    return home.resolve("tetherd.pid");
  }

  public static Path logDir(Path home) {
    return home.resolve("logs");
  }

  public static Path dataDir(Path home) {
    return home.resolve("data");
  }
}
