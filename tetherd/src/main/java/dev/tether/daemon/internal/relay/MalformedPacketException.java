package dev.tether.daemon.internal.relay;

import java.io.IOException;

/**
 * A packet from the MQTT broker (or, in the relay tunnel, a message from a peer) that breaks the protocol: a bad
 * remaining length, a wrong fixed-header flag, a truncated field, an unexpected packet. The connection or stream that
 * carried it is closed.
 */
public final class MalformedPacketException extends IOException {
  private static final long serialVersionUID = 1L;

  public MalformedPacketException(String message) {
    super(message);
  }
}
