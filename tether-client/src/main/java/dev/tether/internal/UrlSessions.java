package dev.tether.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.SessionConfiguration;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import dev.tether.protocol.wire.TransferPush;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/** The URL sessions one connection has open, and the routing of their pushed events. */
public final class UrlSessions {
  private final DaemonClient client;
  private final Map<String, UrlSessionImpl> sessions = new ConcurrentHashMap<>();

  public UrlSessions(DaemonClient client) {
    this.client = client;
    // events come many in one frame (asked for with "eventBatches" when opening, so never one transfer.event each):
    // each handed to the delegate in order, and acknowledged together once all of them were (the session's
    // acknowledgements wait for the burst's end)
    client.onPush(TransferPush.EVENTS, batch -> {
      UrlSessionImpl s = sessions.get(batch.path("session").asText());
      if (s != null) {
        for (com.fasterxml.jackson.databind.JsonNode e : batch.path("events")) {
          if (e instanceof ObjectNode event) {
            s.onEvent(event);
          }
        }
      }
    });
    client.onPush(TransferPush.PROGRESS, e -> {
      UrlSessionImpl s = sessions.get(e.path("session").asText());
      if (s != null) {
        s.onProgress(e);
      }
    });
  }

  DaemonClient client() {
    return client;
  }

  /** Opens (creating or re-attaching) the session; pending events then arrive at {@code delegate}. */
  public UrlSession open(SessionConfiguration config, UrlSessionDelegate delegate) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(delegate, "delegate");
    UrlSessionImpl s = new UrlSessionImpl(this, config, delegate);
    sessions.put(config.identifier(), s);
    ObjectNode body = Json.object();
    body.put("session", config.identifier());
    body.set("configuration", toJson(config));
    body.put("eventBatches", true); // tetherd may push many events in one transfer.events frame
    try {
      ObjectNode r = client.call(TransferOp.SESSION_OPEN, body);
      if (r.path("idle").asBoolean(false)) {
        client.deliver(s::markIdle);
      }
    } catch (RuntimeException e) {
      sessions.remove(config.identifier(), s);
      throw e;
    }
    return s;
  }

  void forget(UrlSessionImpl s) {
    sessions.remove(s.configuration().identifier(), s);
  }

  static ObjectNode toJson(SessionConfiguration c) {
    ObjectNode o = Json.object();
    o.put("discretionary", c.discretionary());
    o.put("sendsLaunchEvents", c.sendsLaunchEvents());
    o.put("requestTimeoutMillis", millis(c.requestTimeout()));
    o.put("resourceTimeoutMillis", millis(c.resourceTimeout()));
    o.put("maxConnectionsPerHost", c.maxConnectionsPerHost());
    ObjectNode h = o.putObject("headers");
    c.headers().forEach(h::put);
    o.put("allowsPlainHttp", c.allowsPlainHttp());
    return o;
  }

  private static long millis(Duration d) {
    try {
      return d.toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 4;
    }
  }
}
