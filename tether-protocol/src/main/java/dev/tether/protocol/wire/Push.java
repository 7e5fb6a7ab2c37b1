package dev.tether.protocol.wire;

/** A frame tetherd sends to an app's connection unasked (id 0, no response). Immutable; any thread. */
public interface Push extends WireName {}
