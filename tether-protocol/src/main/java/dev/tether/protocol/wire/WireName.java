package dev.tether.protocol.wire;

/**
 * A name on the wire, defined once in this package: an IPC operation ({@link Operation}), a push from the daemon to an
 * app ({@link Push}) or a frame between paired daemons ({@link PeerFrameType}). Immutable; any thread.
 */
public interface WireName {
  /** The type string carried in the frame, such as {@code "transfer.download"}. */
  String wire();
}
