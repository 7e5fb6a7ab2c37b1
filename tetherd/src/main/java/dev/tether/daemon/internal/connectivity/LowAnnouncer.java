package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityFrame;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * Runs on the connectivity executor ({@code tether-connectivity}); link readers and store completions hand it work
 * through {@link #announceLow}. Tells each peer the lowest sequence number left in this device's outbox for it ({@code
 * low}), so that the peer may forget the ids below ({@link SeenIds}).
 */
final class LowAnnouncer {
  private final OutboxStore outbox;
  private final Executor exec;
  private final TetherClock clock;

  LowAnnouncer(OutboxStore outbox, Executor exec, TetherClock clock) {
    this.outbox = outbox;
    this.exec = exec;
    this.clock = clock;
  }

  /** How often at most this device tells a peer how far its outbox for that peer is acknowledged. */
  private static final long LOW_EVERY_MILLIS = Long.getLong("tether.cx.lowEveryMillis", 5_000);

  /** When each peer was last told ({@link #announceLow}). */
  private final Map<String, Long> lowAnnounced = new ConcurrentHashMap<>();

  /** The last {@code low} sent on each link, and the links with an announcement scheduled. */
  private final Map<PeerLink, Long> lowSent = Collections.synchronizedMap(new WeakHashMap<>());

  private final Set<PeerLink> lowLater = ConcurrentHashMap.newKeySet();

  /**
   * Tells the peer (at most every {@link #LOW_EVERY_MILLIS}) the lowest sequence number still in this device's outbox
   * for it: everything below has been acknowledged and deleted, so it is never sent again and the peer may forget
   * those ids. Sequence numbers only grow ({@code AUTOINCREMENT}), so with an empty outbox the next one to be
   * assigned is the bound. An announcement held back by the interval is sent at its end, and a new bound is sent once
   * more an interval later (the peer forgets below the bound it was told the time before), so that once traffic
   * stops the peer keeps nothing after two intervals.
   */
  void announceLow(PeerLink link) {
    String peer = link.peer();
    if (!link.isOpen()) {
      return;
    }
    long now = System.currentTimeMillis();
    Long last = lowAnnounced.get(peer);
    if (last != null && now - last < LOW_EVERY_MILLIS) {
      announceLowLater(link, last + LOW_EVERY_MILLIS - now);
      return;
    }
    lowAnnounced.put(peer, now);
    exec.execute(() -> {
      long low = outbox.low(peer);
      ObjectNode b = Json.object();
      b.put("low", low);
      link.send(ConnectivityFrame.LOW, b);
      Long before = lowSent.put(link, low);
      if (before == null || before != low) {
        announceLowLater(link, LOW_EVERY_MILLIS);
      }
    });
  }

  private void announceLowLater(PeerLink link, long millis) {
    if (lowLater.add(link)) {
      clock.schedule(clock.now().plusMillis(millis), () -> {
        lowLater.remove(link);
        announceLow(link);
      });
    }
  }
}
