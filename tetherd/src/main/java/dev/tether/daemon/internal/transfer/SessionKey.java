package dev.tether.daemon.internal.transfer;

/** Immutable, so any thread may use it: a background session, by its app and its identifier. */
record SessionKey(String app, String id) {}
