package dev.tether.daemon.internal.task;

import dev.tether.daemon.internal.ipc.ClientConnection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Confined to the task thread ({@code tether-tasks}), where the task service submits connection events: which app
 * connections are open, which app each belongs to, whether it is in the foreground, listens for tasks or serves a
 * wake.
 */
final class AppConnections {
  /** The app id the tether CLI connects as (TetherCommand.CLI_APP_ID). */
  static final String CLI_APP_ID = "dev.tether.cli";

  /** One app connection as the task service sees it. */
  static final class Conn {
    final ClientConnection connection;
    boolean foreground;
    boolean listening;
    /** Set for a process tetherd launched: it serves only that wake, never later ones. */
    boolean launchedForWake;
    Wake wake;

    Conn(ClientConnection connection) {
      this.connection = connection;
    }

    String appId() {
      return connection.appId();
    }

    boolean open() {
      return connection.isOpen();
    }
  }

  private final Map<ClientConnection, Conn> conns = new HashMap<>();

  /** Whether {@code c} is an app's connection (a hello of kind {@code app}), not a tool's. */
  static boolean isAppConnection(ClientConnection c) {
    return c.hello() != null && "app".equals(c.hello().path("kind").asText("app"));
  }

  /** The CLI (and the test kit) act on the user's behalf for any app; an app acts only for itself. */
  static boolean actsForUser(ClientConnection c) {
    return !isAppConnection(c) || CLI_APP_ID.equals(c.appId());
  }

  void add(Conn s) {
    conns.put(s.connection, s);
  }

  Conn remove(ClientConnection c) {
    return conns.remove(c);
  }

  /** The app connection {@code c}, or null (a tool's connection, or one already closed). */
  Conn get(ClientConnection c) {
    return conns.get(c);
  }

  /** A snapshot of the open app connections. */
  List<Conn> all() {
    return List.copyOf(conns.values());
  }

  /** An open connection of {@code appId} that listens for tasks and serves no wake, or null. */
  ClientConnection listening(String appId) {
    for (Conn s : conns.values()) {
      if (s.listening && s.wake == null && !s.launchedForWake && appId.equals(s.appId()) && s.open()) {
        return s.connection;
      }
    }
    return null;
  }

  /** Whether a process of {@code appId} is connected. */
  boolean connected(String appId) {
    for (Conn s : conns.values()) {
      if (appId.equals(s.appId()) && s.open()) {
        return true;
      }
    }
    return false;
  }

  /** Whether a process of {@code appId} is connected in the foreground. */
  boolean inForeground(String appId) {
    for (Conn s : conns.values()) {
      if (s.foreground && appId.equals(s.appId()) && s.open()) {
        return true;
      }
    }
    return false;
  }
}
