package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.Json;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Immutable, so any thread may use it: a background session's configuration as the daemon stores it (JSON in {@code
 * transfer_sessions.config}). Field names match the client's {@code SessionConfiguration}; missing fields take Apple's
 * defaults.
 */
record SessionConfig(boolean discretionary, boolean sendsLaunchEvents, Duration requestTimeout, Duration resourceTimeout,
    int maxConnectionsPerHost, Map<String, String> headers, boolean allowsPlainHttp) {

  static final int DEFAULT_MAX_CONNECTIONS = 6;

  static SessionConfig defaults() {
    return new SessionConfig(false, true, Duration.ofSeconds(60), Duration.ofDays(7), DEFAULT_MAX_CONNECTIONS, Map.of(), false);
  }

  static SessionConfig fromJson(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) {
      return defaults();
    }
    if (!n.isObject()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "session configuration must be a JSON object");
    }
    SessionConfig d = defaults();
    long requestMs = n.path("requestTimeoutMillis").asLong(d.requestTimeout.toMillis());
    long resourceMs = n.path("resourceTimeoutMillis").asLong(d.resourceTimeout.toMillis());
    int maxConn = n.path("maxConnectionsPerHost").asInt(d.maxConnectionsPerHost);
    if (requestMs <= 0 || resourceMs <= 0) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "request and resource timeouts must be positive");
    }
    if (maxConn < 1 || maxConn > 64) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "maxConnectionsPerHost must be between 1 and 64, got " + maxConn);
    }
    Map<String, String> headers = new LinkedHashMap<>();
    JsonNode h = n.path("headers");
    if (h.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = h.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        headers.put(e.getKey(), e.getValue().asText());
      }
    }
    return new SessionConfig(n.path("discretionary").asBoolean(d.discretionary),
        n.path("sendsLaunchEvents").asBoolean(d.sendsLaunchEvents), Duration.ofMillis(requestMs), Duration.ofMillis(resourceMs),
        maxConn, Map.copyOf(headers), n.path("allowsPlainHttp").asBoolean(d.allowsPlainHttp));
  }

  ObjectNode toJson() {
    ObjectNode o = Json.object();
    o.put("discretionary", discretionary);
    o.put("sendsLaunchEvents", sendsLaunchEvents);
    o.put("requestTimeoutMillis", requestTimeout.toMillis());
    o.put("resourceTimeoutMillis", resourceTimeout.toMillis());
    o.put("maxConnectionsPerHost", maxConnectionsPerHost);
    ObjectNode h = o.putObject("headers");
    headers.forEach(h::put);
    o.put("allowsPlainHttp", allowsPlainHttp);
    return o;
  }
}
