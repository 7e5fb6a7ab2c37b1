package dev.tether;

import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * An app's entry point to Tether: one connection to the user's tetherd, named by the app's id.
 *
 * <pre>{@code
 * try (Tether tether = Tether.connect("com.example.weather")) {   // starts tetherd if it is not running
 *   ...
 * }
 * }</pre>
 *
 * <p>Thread-safe. Close it when the app is done; background work the app started goes on in tetherd.
 */
public final class Tether implements AutoCloseable {
  private final DaemonClient client;
  private final String appId;
  private final boolean launchedInBackground;

  private Tether(DaemonClient client, String appId, boolean launchedInBackground) {
    this.client = client;
    this.appId = appId;
    this.launchedInBackground = launchedInBackground;
  }

  /** Connects as {@code appId} to the daemon of the default home, starting the daemon when none is running. */
  public static Tether connect(String appId) {
    return connect(appId, TetherOptions.defaults());
  }

  /** Connects as {@code appId} with explicit options (home folder, whether to start the daemon). */
  public static Tether connect(String appId, TetherOptions options) {
    Objects.requireNonNull(appId, "appId");
    Map<String, String> env = System.getenv();
    Path home = TetherPaths.resolveHome(options.home(), env);
    boolean background = "1".equals(env.get(Protocol.ENV_LAUNCHED_IN_BACKGROUND)) && appId.equals(env.get(Protocol.ENV_APP_ID));
    var hello = dev.tether.protocol.Json.object();
    hello.put("kind", options.kind());
    if (background && env.get(Protocol.ENV_WAKE_ID) != null) {
      hello.put("wakeId", env.get(Protocol.ENV_WAKE_ID));
    }
    DaemonClient client = DaemonClient.connect(home, appId, hello, options.startDaemon());
    return new Tether(client, appId, background);
  }

  /** The app id this connection acts for. */
  public String appId() {
    return appId;
  }

  /** The daemon's home folder. */
  public Path home() {
    return client.home();
  }

  /** True when tetherd launched this process in the background to hand it tasks. */
  public boolean launchedInBackground() {
    return launchedInBackground;
  }

  /** The version of the daemon this app is connected to. */
  public String daemonVersion() {
    return client.welcome().path("version").asText();
  }

  /** The connection underneath, for Tether's own modules (CLI, test kit); not part of the app API and may change. */
  public DaemonClient internalClient() {
    return client;
  }

  @Override
  public void close() {
    client.close();
  }

  @Override
  public String toString() {
    return "Tether[" + appId + " @ " + client.home() + "]";
  }
}
