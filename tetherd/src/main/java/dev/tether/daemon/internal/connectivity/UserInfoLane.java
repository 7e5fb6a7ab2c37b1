package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.link.LinkManager;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Runs on the IPC reader threads; the answer completes on the store's writer after the COMMIT (no hand-off on this hot
 * path). The user info lane ({@code cx.userinfo}, {@code cx.userinfo.batch}): queues an app's user info (or
 * complication user info, while {@link ComplicationQuota} allows) in the outbox through its group-committing writer.
 */
final class UserInfoLane {
  private final OutboxStore outbox;
  private final GroupWriter<OutboxStore.Outgoing, Long> outboxWriter;
  private final LinkManager links;
  private final CounterpartApps apps;
  private final TetherClock clock;
  private final Supplier<String> counterpart;
  private final Consumer<String> wakeSender;

  /** {@code counterpart} gives the paired peer (or throws); {@code wakeSender} wakes the sender of a peer. */
  UserInfoLane(OutboxStore outbox, GroupWriter<OutboxStore.Outgoing, Long> outboxWriter, LinkManager links,
               CounterpartApps apps, TetherClock clock, Supplier<String> counterpart, Consumer<String> wakeSender) {
    this.outbox = outbox;
    this.outboxWriter = outboxWriter;
    this.links = links;
    this.apps = apps;
    this.clock = clock;
    this.counterpart = counterpart;
    this.wakeSender = wakeSender;
  }

  /** {@code cx.userinfo}: the payload (checked at the IPC edge) and whether it is complication user info. */
  record Request(String payload, boolean complication) {
    static Request parse(ObjectNode b) {
      return new Request(Payloads.checked(b, PropertyList.MAX_MESSAGE_BYTES, "user info"), b.path("complication").asBoolean(false));
    }
  }

  /** {@code cx.userinfo.batch}: the items, each a body with a payload (checked after pairing, in order). */
  record BatchRequest(List<JsonNode> items) {
    static BatchRequest parse(ObjectNode b) {
      List<JsonNode> items = new ArrayList<>();
      b.path("items").forEach(items::add);
      return new BatchRequest(items);
    }
  }

  /** How many complication user infos the app may send now. */
  int remainingComplications(String app) {
    boolean primary = links.localRole().equals("primary");
    boolean shows = apps.showsComplication(app);
    int used = primary && shows ? complicationsUsed(app) : 0;
    return ComplicationQuota.remaining(primary, shows, used);
  }

  private int complicationsUsed(String app) {
    return outbox.complicationsAfter(app, ComplicationQuota.countsAfter(clock.now()));
  }

  /** {@code cx.userinfo}: queues one user info; answers after the commit. On the IPC reader. */
  CompletableFuture<ObjectNode> transfer(ClientConnection c, Request req) {
    String payload = req.payload();
    String peer = counterpart.get();
    boolean complication = req.complication();
    String kind = "userinfo";
    if (complication) {
      if (!links.localRole().equals("primary")) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER,
            "complication user info goes from the primary to a companion only; this device is a companion");
      }
      kind = ComplicationQuota.kind(true, remainingComplications(c.appId()));
    }
    String id = TransferIds.next();
    String k = kind;
    return outboxWriter.add(new OutboxStore.Outgoing(id, peer, c.appId(), kind, payload, null, 0, null)).thenApply(seq -> {
      wakeSender.accept(peer);
      ObjectNode r = Json.object();
      r.put("id", id);
      r.put("complication", k.equals("complication"));
      if (complication) {
        r.put("remainingComplicationUserInfoTransfers", remainingComplications(c.appId()));
      }
      return r;
    });
  }

  /** Many user info transfers in one request (the CLI's {@code --from}): each stored, all answered after the commit. */
  /** {@code cx.userinfo.batch}: queues many user infos; answers after the commit. On the IPC reader. */
  CompletableFuture<ObjectNode> transferBatch(ClientConnection c, BatchRequest req) {
    String peer = counterpart.get();
    List<CompletableFuture<Long>> parts = new ArrayList<>();
    ArrayNode ids = Json.array();
    List<OutboxStore.Outgoing> items = new ArrayList<>();
    for (JsonNode item : req.items()) {
      String payload = Payloads.checked((ObjectNode) item, PropertyList.MAX_MESSAGE_BYTES, "user info");
      String id = TransferIds.next();
      ids.add(id);
      items.add(new OutboxStore.Outgoing(id, peer, c.appId(), "userinfo", payload, null, 0, null));
    }
    for (OutboxStore.Outgoing o : items) {
      parts.add(outboxWriter.add(o));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(x -> {
      wakeSender.accept(peer);
      ObjectNode r = Json.object();
      r.set("ids", ids);
      return r;
    });
  }
}
