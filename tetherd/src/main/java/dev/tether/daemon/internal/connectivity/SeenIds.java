package dev.tether.daemon.internal.connectivity;

import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Any thread (the link readers of different peers call it at once; one peer's bounds come from its one link reader in
 * order): when the ids seen from a peer ({@code cx_seen}) may be forgotten. A sender tells the receiver, now and then,
 * the lowest sequence number left in its outbox ({@code low}): everything below was acknowledged and is never sent
 * again. The receiver forgets the ids below the bound it was told <em>the time before</em>, so that a copy of an item
 * resent before its acknowledgement, still on its way over an older link, meets its id for one more announcement
 * (seconds). A bound that goes down (the sender's outbox was reset) forgets nothing.
 */
final class SeenIds {
  private final Map<String, Long> lastLow = new ConcurrentHashMap<>();

  /**
   * The peer said its outbox holds nothing below {@code low}; answers the bound below which its ids may be forgotten
   * now (the previous {@code low}), or empty when nothing may be.
   */
  OptionalLong lowReceived(String peer, long low) {
    Long before = lastLow.put(peer, low);
    if (before != null && before > 1 && before <= low) {
      return OptionalLong.of(before);
    }
    return OptionalLong.empty();
  }
}
