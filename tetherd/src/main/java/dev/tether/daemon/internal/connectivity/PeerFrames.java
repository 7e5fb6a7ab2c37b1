package dev.tether.daemon.internal.connectivity;

import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Frame;
import dev.tether.protocol.wire.ConnectivityFrame;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on each link's reader thread ({@link #dispatch}); filled once before the links start, then read only. The table
 * of peer-frame handlers: each {@link ConnectivityFrame} type to the lane that handles it; each handler hands its work
 * to its lane as that lane documents.
 */
final class PeerFrames {
  private static final Logger log = LoggerFactory.getLogger(PeerFrames.class);

  /** Handles one frame from a peer, with the raw bytes that followed it (null when none did). */
  @FunctionalInterface
  interface Handler {
    void handle(PeerLink link, Frame frame, byte[] attachment) throws Exception;
  }

  private final Map<String, Handler> byType = new HashMap<>();

  /** Adds the handler of one frame type; each type has exactly one. */
  PeerFrames on(ConnectivityFrame type, Handler handler) {
    if (byType.putIfAbsent(type.wire(), handler) != null) {
      throw new IllegalStateException("a handler for " + type + " is already registered");
    }
    return this;
  }

  /** Checks that every frame type has its handler. */
  PeerFrames complete() {
    Set<ConnectivityFrame> missing = EnumSet.noneOf(ConnectivityFrame.class);
    for (ConnectivityFrame t : ConnectivityFrame.values()) {
      if (!byType.containsKey(t.wire())) {
        missing.add(t);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalStateException("no handler for peer frames " + missing);
    }
    return this;
  }

  /** Runs the frame's handler; an unknown type is logged and dropped. */
  void dispatch(PeerLink link, Frame f, byte[] attachment) throws Exception {
    Handler h = byType.get(f.type());
    if (h == null) {
      log.warn("unknown frame {} from peer {}", f.type(), link.peer());
      return;
    }
    h.handle(link, f, attachment);
  }
}
