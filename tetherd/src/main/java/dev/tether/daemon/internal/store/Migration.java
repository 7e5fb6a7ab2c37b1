package dev.tether.daemon.internal.store;

/**
 * One step of the schema, applied once and recorded by {@code id}. Each capability lists its own migrations in order;
 * ids are prefixed with the capability ({@code "transfer-001"}) so lists never collide.
 */
public record Migration(String id, String sql) {}
