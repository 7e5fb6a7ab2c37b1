package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import java.nio.charset.StandardCharsets;

/**
 * Stateless; any thread: checks an app's encoded property-list payloads against their size limits.
 */
final class Payloads {
  private Payloads() {}

  /** The request's {@code payload}, checked and written compactly; {@code what} names it in errors. */
  static String checked(ObjectNode b, int max, String what) {
    JsonNode p = b.get("payload");
    if (p == null || !p.isObject() || !p.has("m")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, what + " is missing its payload map");
    }
    PropertyList.checkEncoded(p);
    String text = Json.sourceText(p);
    // the limit applies to the payload written compactly, as the client library measured it (a frame's own text may
    // be longer: escapes, spaces)
    if (text.length() > max && Json.write(p).getBytes(StandardCharsets.UTF_8).length > max) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, what + " is larger than " + max + " bytes encoded");
    }
    return text;
  }

  /** {@code p} as the {@code payload} of a body, to check with {@link #checked}. */
  static ObjectNode withPayload(JsonNode p) {
    ObjectNode o = Json.object();
    o.set("payload", p);
    return o;
  }
}
