package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.link.LinkManager;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityFrame;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * Runs on the IPC reader threads; a cancel's follow-up runs on the store writer's completion. An app's outstanding
 * transfers: the paged listing ({@code cx.outstanding}, with what the paired device refused for now) and cancelling
 * ({@code cx.cancel}).
 */
final class Outstanding {
  /** Upper bound of one page's payloads, far below the frame codec's 16 MiB limit. */
  private static final int BATCH_BYTES = 4 * 1024 * 1024;

  private final OutboxStore outbox;
  private final OutgoingStates fileStates;
  private final LinkManager links;

  Outstanding(OutboxStore outbox, OutgoingStates fileStates, LinkManager links) {
    this.outbox = outbox;
    this.fileStates = fileStates;
    this.links = links;
  }

  /** {@code cx.outstanding}: where the page starts (after this sequence number). */
  record PageRequest(long after) {
    static PageRequest parse(ObjectNode b) {
      return new PageRequest(b.path("after").asLong(0));
    }
  }

  /** {@code cx.cancel}: the transfer's id. */
  record CancelRequest(String id) {
    static CancelRequest parse(ObjectNode b) {
      return new CancelRequest(b.path("id").asText());
    }
  }

  /** {@code cx.outstanding}. */
  CompletableFuture<ObjectNode> page(ClientConnection c, PageRequest req) {
    return CompletableFuture.completedFuture(outstanding(c.appId(), req.after()));
  }

  /**
   * One page of the app's outstanding transfers, in order, from after sequence number {@code after}: up to
   * {@link #BATCH_BYTES} of payloads, so that an answer stays far below the frame limit however many large user infos
   * wait (300 of 60 KiB are 18 MB). {@code next}, present when more follow, is where the next page starts.
   */
  ObjectNode outstanding(String app, long after) {
    ObjectNode r = Json.object();
    ArrayNode infos = r.putArray("userInfo");
    ArrayNode files = r.putArray("files");
    long[] bytes = {0};
    outbox.outstanding(app, after, row -> {
      String text = row.payload();
      bytes[0] += (text == null ? 0 : text.length()) + 200;
      if (bytes[0] > BATCH_BYTES && (infos.size() + files.size()) > 0) {
        r.put("next", row.seq() - 1);
        return false;
      }
      ObjectNode o = Json.object();
      o.put("id", row.id());
      String kind = row.kind();
      o.put("createdAt", java.time.Instant.ofEpochMilli(row.createdAt()).toString());
      if (kind.equals("file")) {
        ObjectNode meta = (ObjectNode) Json.parse(text);
        o.put("name", meta.path("name").asText());
        if (meta.has("metadata")) {
          o.set("metadata", meta.get("metadata"));
        }
        o.put("size", row.size());
        ObjectNode blocked = fileStates.blocked.get(row.id());
        if (blocked != null) {
          o.put("errorCode", blocked.path("code").asText());
          o.put("error", blocked.path("error").asText());
        }
        files.add(o);
      } else {
        o.put("complication", kind.equals("complication"));
        o.set("payload", Json.parse(text));
        ObjectNode blocked = fileStates.blockedInfo.get(app);
        if (blocked != null) {
          o.put("errorCode", blocked.path("code").asText());
          o.put("error", blocked.path("error").asText());
        }
        infos.add(o);
      }
      return true;
    });
    return r;
  }

  /** {@code cx.cancel}: ends an outstanding transfer of the app; a file stops at its next chunk. On the IPC reader. */
  CompletableFuture<ObjectNode> cancel(ClientConnection c, CancelRequest req) {
    String id = req.id();
    return outbox.cancel(c.appId(), id).thenApply(file -> {
      if (file != null) {
        fileStates.cancelled.add(id);
        Disk.deleteQuietly(Path.of(file));
        // the paired device drops what it holds of the file (were the link down, its copy expires by itself)
        ObjectNode drop = Json.object();
        drop.put("id", id);
        for (Peer p : links.peers()) {
          links.link(p.fingerprint()).ifPresent(l -> l.send(ConnectivityFrame.FILE_DROP, drop));
        }
      }
      ObjectNode r = Json.object();
      r.put("id", id);
      r.put("cancelled", true);
      return r;
    });
  }
}
