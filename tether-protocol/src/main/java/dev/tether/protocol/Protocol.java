package dev.tether.protocol;

/** Constants of the app-to-daemon protocol. */
public final class Protocol {
  /**
   * The protocol version. A client opens with {@code hello{protocol}}; a daemon of another version answers with an
   * error of code {@code PROTOCOL_MISMATCH} naming both versions, then closes.
   */
  public static final int VERSION = 1;

  public static final String HELLO = "hello";
  public static final String WELCOME = "welcome";

  /** Environment variable naming the daemon's home folder (same as {@code --home}). */
  public static final String ENV_HOME = "TETHER_HOME";
  /** Set to {@code 1} in the environment of an app that tetherd launched in the background. */
  public static final String ENV_LAUNCHED_IN_BACKGROUND = "TETHER_LAUNCHED_IN_BACKGROUND";
  /** The app id tetherd launched (set for background launches). */
  public static final String ENV_APP_ID = "TETHER_APP_ID";
  /** The id of the wake a background launch belongs to. */
  public static final String ENV_WAKE_ID = "TETHER_WAKE_ID";
  /**
   * Set to {@code 1} where tetherd is managed by something else (a systemd unit, a test harness): clients then never
   * start one themselves, and fail with {@code DAEMON_UNAVAILABLE} while it is down instead.
   */
  public static final String ENV_NO_AUTOSTART = "TETHER_NO_AUTOSTART";

  private Protocol() {}
}
