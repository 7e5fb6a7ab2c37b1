package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import dev.tether.protocol.wire.ConnectivityFrame;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the IPC and link reader threads, which hand its writes to the store and its deliveries to the connectivity
 * executor. The application context lane: the latest context per app, replaced rather than queued ({@code cx.context},
 * peer frames {@code ctx} and {@code ctx.ack}), deduplicated by version.
 */
final class ApplicationContexts {
  private static final Logger log = LoggerFactory.getLogger(ApplicationContexts.class);

  private final ContextStore contexts;
  private final Executor exec;
  private final Supplier<String> counterpart;
  private final Consumer<String> wakeSender;
  private final Consumer<String> arrived;
  private final AtomicLong versions = new AtomicLong(System.currentTimeMillis() * 1000);

  /**
   * {@code counterpart} gives the paired peer (or throws {@code DEVICE_NOT_PAIRED}); {@code wakeSender} wakes the
   * sender of a peer; {@code arrived} runs on {@code exec} once a received context is stored.
   */
  ApplicationContexts(ContextStore contexts, Executor exec, Supplier<String> counterpart, Consumer<String> wakeSender,
                      Consumer<String> arrived) {
    this.contexts = contexts;
    this.exec = exec;
    this.counterpart = counterpart;
    this.wakeSender = wakeSender;
    this.arrived = arrived;
  }

  /** {@code cx.context}: the app's payload, checked against the context limit at the IPC edge. */
  record UpdateRequest(String payload) {
    static UpdateRequest parse(ObjectNode b) {
      return new UpdateRequest(Payloads.checked(b, PropertyList.MAX_CONTEXT_BYTES, "application context"));
    }
  }

  /** {@code cx.context}: queues the app's new context unless it equals the latest; answers whether it is sent. */
  CompletableFuture<ObjectNode> update(ClientConnection c, UpdateRequest r) {
    String peer = counterpart.get();
    String id = TransferIds.next();
    long version = versions.incrementAndGet();
    return contexts.replaceOutgoing(c.appId(), peer, id, version, r.payload()).thenApply(sent -> {
      if (sent) {
        wakeSender.accept(peer);
      }
      ObjectNode o = Json.object();
      o.put("sent", sent);
      return o;
    });
  }

  /** A context from the peer ({@code ctx}); on the link's reader. Acknowledged once stored (or dropped as old). */
  void received(PeerLink link, ObjectNode b) {
    String app = b.path("app").asText();
    String id = b.path("id").asText();
    long version = b.path("version").asLong();
    String payload = b.get("payload").toString();
    contexts.storeIncoming(link.peer(), app, id, version, payload).whenComplete((fresh, failure) -> {
      if (failure != null) {
        log.error("storing an application context for {} failed", app, failure);
        return;
      }
      ObjectNode ack = Json.object();
      ack.put("app", app);
      ack.put("id", id);
      link.send(ConnectivityFrame.CTX_ACK, ack);
      if (fresh) {
        exec.execute(() -> arrived.accept(app));
      }
    });
  }

  /** The peer stored a context ({@code ctx.ack}). */
  void acked(ObjectNode b) {
    contexts.markSent(b.path("app").asText(), b.path("id").asText());
  }

  /** The app's latest context sent, or JSON null. */
  JsonNode sent(String app) {
    return json(contexts.latestSent(app));
  }

  /** The app's latest context received, or JSON null. */
  JsonNode received(String app) {
    return json(contexts.received(app));
  }

  private static JsonNode json(String payload) {
    return payload == null ? Json.mapper().nullNode() : Json.parse(payload);
  }
}
