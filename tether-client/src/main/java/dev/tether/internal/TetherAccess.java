package dev.tether.internal;

import dev.tether.Tether;
import dev.tether.TetherOptions;
import java.util.Map;

/**
 * Lets Tether's own modules (the CLI, the test kit, Tether's tests) reach what the public API keeps private: the
 * connection underneath a {@link Tether} ({@link #client}), connecting with a given environment (an in-process
 * background launch) and an app's task runtime. Not part of the app API: no public signature of {@code dev.tether}
 * names a type of this package.
 */
public abstract class TetherAccess {
  private static volatile TetherAccess instance;

  /** Called once by {@link Tether}'s class initialiser. */
  public static void set(TetherAccess access) {
    instance = access;
  }

  public static TetherAccess get() {
    if (instance == null) {
      try {
        Class.forName(Tether.class.getName(), true, TetherAccess.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException(e);
      }
    }
    return instance;
  }

  /** {@link Tether#connect(String, TetherOptions)} as if the process had the environment {@code env}. */
  public abstract Tether connect(String appId, TetherOptions options, Map<String, String> env);

  /** The background-task runtime of a connection. */
  public abstract BackgroundTasks backgroundTasks(Tether tether);

  /** The connection to tetherd underneath {@code tether}. */
  public abstract DaemonClient daemonClient(Tether tether);

  /** The connection to tetherd underneath {@code tether}, for Tether's own tools; may change at any release. */
  public static DaemonClient client(Tether tether) {
    return get().daemonClient(tether);
  }
}
