package dev.tether.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.PropertyList;
import java.util.Map;

/**
 * tether-protocol's {@link PropertyList} as the client calls it: a payload it refuses fails with the app's
 * {@link dev.tether.TetherException} ({@link Errors}). Pure; any thread.
 */
final class Payloads {
  private Payloads() {}

  /** {@link PropertyList#encodeTree}. */
  static JsonNode encodeTree(Map<String, ?> payload, int maxBytes, String what) {
    return Errors.translate(() -> PropertyList.encodeTree(payload, maxBytes, what));
  }

  /** {@link PropertyList#fromJson}. */
  static Object fromJson(JsonNode n) {
    return Errors.translate(() -> PropertyList.fromJson(n));
  }
}
