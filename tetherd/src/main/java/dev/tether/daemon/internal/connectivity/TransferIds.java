package dev.tether.daemon.internal.connectivity;

import java.security.SecureRandom;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Identifiers of connectivity transfers: RFC 9562 version 8 UUIDs made of 60 random bits drawn once per daemon start
 * and a counter. They are unique across restarts and devices like random UUIDs, cost no {@code SecureRandom} call
 * each, and the ids of one run sort in the order they were made, so the indexes they key grow at their end instead
 * of at random pages.
 */
final class TransferIds {
  private static final long PREFIX = (new SecureRandom().nextLong() & ~0xF000L) | 0x8000L;
  private static final AtomicLong COUNTER = new AtomicLong();

  private TransferIds() {}

  static String next() {
    return new UUID(PREFIX, 0x8000_0000_0000_0000L | COUNTER.incrementAndGet()).toString();
  }
}
