package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityFrame;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the link readers, which hand rows to the inbox's group writer and acknowledgements to the connectivity
 * executor. The receiving side of the queues: items and received files committed to {@code cx_inbox} with their ids in
 * {@code cx_seen} (a resent duplicate is dropped), acknowledged to the sender after the commit, refused for now when
 * the disk is full, and the seen ids forgotten below the sender's previous {@code low} ({@link SeenIds}).
 */
final class Inbox {
  private static final Logger log = LoggerFactory.getLogger(Inbox.class);

  private final InboxStore inboxStore;
  private final Executor exec;
  private final Consumer<String> arrived;
  private final GroupWriter<Incoming, Boolean> inboxWriter;

  /** {@code arrived} runs on {@code exec} once new rows of an app are committed. */
  Inbox(Store store, InboxStore inboxStore, Executor exec, Consumer<String> arrived) {
    this.inboxStore = inboxStore;
    this.exec = exec;
    this.arrived = arrived;
    this.inboxWriter = new GroupWriter<>(store, (conn, items) -> inboxStore.insert(conn, items, refusingPeers::containsKey));
  }

  /** Stores a received item or file; completes with true if it is new, false if seen before, null if refused. */
  CompletableFuture<Boolean> add(Incoming item) {
    return inboxWriter.add(item);
  }

  /** The peer offers its refused user info again ({@code items.retry}): store it if space allows. */
  void retry(PeerLink link) {
    if (refusingPeers.remove(link.peer()) != null) {
      log.info("peer {} offers its user info again; storing it if space allows", link.peer());
    }
  }

  /** A new link starts from the lowest unacknowledged item, in order: nothing of an earlier refusal carries over. */
  void linkUp(PeerLink link) {
    refusingPeers.remove(link.peer());
  }

  /** An item that arrived from the peer. */
  record Incoming(long peerSeq, String id, String peer, String app, String kind, String payload, String file) {}

  /**
   * Peers whose user info this device refused for lack of space, with the reason. Later items from such a peer are
   * refused too, also those already queued for the store ({@link #insertIncoming}), so that none is stored ahead of
   * one refused; the sender offers them again in order after {@code items.retry}.
   */
  private final Map<String, TetherException> refusingPeers = new ConcurrentHashMap<>();

  /** Refused items to report to the peer, gathered per link like acknowledgements: sequence numbers and apps. */
  private final Map<PeerLink, Map<Long, String>> pendingRefusals = new ConcurrentHashMap<>();

  /** Acknowledgements to the peer, gathered per link so one frame carries many sequence numbers. */
  private final Map<PeerLink, List<Long>> pendingAcks = new ConcurrentHashMap<>();

  /** Apps with a pass of {@code arrived} scheduled on the connectivity executor. */
  private final Set<String> arrivedApps = ConcurrentHashMap.newKeySet();

  /** The kind of an {@link Incoming} that is not an item: forget the ids seen from its peer below its sequence number. */
  static final String FORGET_SEEN = "forget-seen";

  /** The bounds each peer told this device ({@link #receiveLow}), and when its seen ids may be forgotten. */
  private final SeenIds seenIds = new SeenIds();

  /** An item from the peer ({@code items}, {@code item}); on the link's reader. */
  void receiveItem(PeerLink link, ObjectNode item) {
    String app = item.path("app").asText();
    long seq = item.path("seq").asLong();
    TetherException refusing = refusingPeers.get(link.peer());
    if (refusing != null) {
      refuseToPeer(link, seq, app, refusing);
      return;
    }
    inboxWriter.add(new Incoming(seq, item.path("id").asText(), link.peer(), app, item.path("kind").asText(),
        Json.sourceText(item.get("payload")), null))
        .whenComplete((fresh, failure) -> {
          if (failure != null) {
            TetherException full = Disk.insufficientSpace(failure);
            if (full == null) {
              log.error("storing an item from {} failed; closing the link so it is resent", link.peer(), failure);
              link.close();
              return;
            }
            TetherException refusal = new TetherException(ErrorCode.INSUFFICIENT_SPACE, "the paired device cannot store "
                + "user info now: " + full.getMessage() + ". The transfers stay queued on this device, in order, and are "
                + "offered again (after 1, 2, 4, then every 5 seconds)");
            if (refusingPeers.put(link.peer(), refusal) == null) {
              log.warn("refusing user info from peer {} for now: {}", link.peer(), full.getMessage());
            }
            refuseToPeer(link, seq, app, refusal);
            return;
          }
          if (fresh == null) {
            refuseToPeer(link, seq, app, refusingPeers.getOrDefault(link.peer(),
                new TetherException(ErrorCode.INSUFFICIENT_SPACE, "the paired device cannot store user info now")));
            return;
          }
          ackToPeer(link, seq);
          if (fresh) {
            arrivedAfterCommit(app);
          }
        });
  }

  private void refuseToPeer(PeerLink link, long seq, String app, TetherException refusal) {
    Map<Long, String> refused = pendingRefusals.computeIfAbsent(link, k -> new LinkedHashMap<>());
    boolean first;
    synchronized (refused) {
      first = refused.isEmpty();
      refused.put(seq, app);
    }
    if (first) {
      exec.execute(() -> {
        ObjectNode b = Json.object();
        ArrayNode seqs = b.putArray("seqs");
        Set<String> apps = new LinkedHashSet<>();
        synchronized (refused) {
          refused.forEach((s, a) -> {
            seqs.add(s);
            apps.add(a);
          });
          refused.clear();
        }
        apps.forEach(b.putArray("apps")::add);
        b.put("code", refusal.code().name());
        b.put("error", refusal.getMessage());
        link.send(ConnectivityFrame.ITEMS_REFUSED, b);
      });
    }
  }

  void ackToPeer(PeerLink link, long seq) {
    List<Long> list = pendingAcks.computeIfAbsent(link, k -> new ArrayList<>());
    boolean first;
    synchronized (list) {
      first = list.isEmpty();
      list.add(seq);
    }
    if (first) {
      exec.execute(() -> {
        ArrayNode a = Json.array();
        synchronized (list) {
          list.forEach(a::add);
          list.clear();
        }
        ObjectNode b = Json.object();
        b.set("seqs", a);
        link.send(ConnectivityFrame.ACK, b);
      });
    }
  }

  /** New inbox rows for {@code app} were committed; coalesced so a burst makes one pass. */
  void arrivedAfterCommit(String app) {
    if (arrivedApps.add(app)) {
      exec.execute(() -> {
        arrivedApps.remove(app);
        arrived.accept(app);
      });
    }
  }

  /**
   * The peer's outbox holds nothing below {@code low}. The ids seen from it below the bound it sent the time before
   * are forgotten, in order with the items still being stored (through the inbox writer): a copy of an item that
   * was resent before it was acknowledged, and is still on its way, meets its id. Waiting one announcement (seconds)
   * covers a copy still coming over an older link.
   */
  void receiveLow(PeerLink link, long low) {
    seenIds.lowReceived(link.peer(), low).ifPresent(
        below -> inboxWriter.add(new Incoming(below, null, link.peer(), null, FORGET_SEEN, null, null)));
  }

  /** Whether an item or file with this id was stored before (it is acknowledged again, not stored). */
  boolean seen(String id) {
    return inboxStore.seen(id);
  }
}
