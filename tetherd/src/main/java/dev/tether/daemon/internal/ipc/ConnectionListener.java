package dev.tether.daemon.internal.ipc;

/** Told when an app's connection finishes its handshake and when it closes. */
public interface ConnectionListener {
  default void opened(ClientConnection connection) {}

  default void closed(ClientConnection connection) {}
}
