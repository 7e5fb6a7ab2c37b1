package dev.tether.protocol.wire;

/** An IPC request an app or the CLI sends to tetherd, answered with a response or an error. Immutable; any thread. */
public interface Operation extends WireName {}
