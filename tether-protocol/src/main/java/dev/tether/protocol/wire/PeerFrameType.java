package dev.tether.protocol.wire;

/** The type of a frame between two paired daemons. Immutable; any thread. */
public interface PeerFrameType extends WireName {}
