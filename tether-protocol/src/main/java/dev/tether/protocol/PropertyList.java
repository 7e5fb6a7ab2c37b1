package dev.tether.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Property-list payloads (connectivity messages, user info, application context, file metadata): validation at the
 * call with the path of an offending value, and a type-preserving JSON encoding for the wire and the store.
 *
 * <p>Allowed values: {@link String}, {@link Boolean}, {@link Integer}, {@link Long}, {@link Double} (and
 * {@link Float}, read back as Double), {@link Instant} and {@link Date} (read back as Instant), {@code byte[]},
 * {@link List} and {@link Map} with String keys. Each value is encoded as a one-field object naming its type:
 * {@code {"s":"text"}}, {@code {"b":true}}, {@code {"i":1}}, {@code {"j":1}} (long), {@code {"d":1.5}},
 * {@code {"t":"2026-01-01T00:00:00Z"}}, {@code {"x":"base64"}}, {@code {"l":[...]}}, {@code {"m":{...}}}.
 */
public final class PropertyList {
  /** Apple's reported limit for a message and a user info transfer, applied to the encoded form. */
  public static final int MAX_MESSAGE_BYTES = 64 * 1024;
  /** Apple's reported limit for an application context, applied to the encoded form. */
  public static final int MAX_CONTEXT_BYTES = 256 * 1024;

  private PropertyList() {}

  /**
   * Encodes a payload after checking every value; {@code what} names it in errors ("user info").
   *
   * @throws TetherException PAYLOAD_UNSUPPORTED_TYPES naming the path of the first bad value, or PAYLOAD_TOO_LARGE
   */
  public static String encode(Map<String, ?> payload, int maxBytes, String what) {
    return Json.write(encodeTree(payload, maxBytes, what));
  }

  /** Like {@link #encode} but returns the encoded tree. */
  public static JsonNode encodeTree(Map<String, ?> payload, int maxBytes, String what) {
    if (payload == null) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, what + " must not be null; pass an empty map instead");
    }
    JsonNode node = toJson(payload, "");
    int size = Json.write(node).getBytes(StandardCharsets.UTF_8).length;
    if (size > maxBytes) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, what + " is " + size + " bytes encoded; the limit is "
          + maxBytes + " bytes (" + (maxBytes / 1024) + " KiB). Send large data with transferFile instead");
    }
    return node;
  }

  /** The encoded form of one value tree (validated). */
  public static JsonNode toJson(Object value, String path) {
    ObjectNode o = Json.object();
    if (value instanceof String s) {
      o.put("s", s);
    } else if (value instanceof Boolean b) {
      o.put("b", b);
    } else if (value instanceof Integer i) {
      o.put("i", i);
    } else if (value instanceof Long l) {
      o.put("j", l);
    } else if (value instanceof Double d) {
      o.put("d", d);
    } else if (value instanceof Float f) {
      o.put("d", f.doubleValue());
    } else if (value instanceof Instant t) {
      o.put("t", t.toString());
    } else if (value instanceof Date t) {
      o.put("t", t.toInstant().toString());
    } else if (value instanceof byte[] x) {
      o.put("x", Base64.getEncoder().encodeToString(x));
    } else if (value instanceof List<?> list) {
      ArrayNode a = o.putArray("l");
      int i = 0;
      for (Object e : list) {
        a.add(toJson(e, path + "[" + i + "]"));
        i++;
      }
    } else if (value instanceof Map<?, ?> map) {
      ObjectNode m = o.putObject("m");
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!(e.getKey() instanceof String key)) {
          throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, "the map at " + display(path)
              + " has a key of type " + typeName(e.getKey()) + "; property-list maps take String keys only");
        }
        m.set(key, toJson(e.getValue(), path + "/" + key));
      }
    } else {
      throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, "the value at " + display(path) + " is a "
          + typeName(value) + "; payloads take only String, Boolean, Integer, Long, Double, Instant/Date, byte[], "
          + "List and Map<String, ?>");
    }
    return o;
  }

  private static String display(String path) {
    return path.isEmpty() ? "/" : path;
  }

  private static String typeName(Object v) {
    return v == null ? "null" : v.getClass().getName();
  }

  /** Decodes an encoded payload map. */
  public static Map<String, Object> decode(String text) {
    if (text == null) {
      return Map.of();
    }
    Object v = fromJson(Json.parse(text));
    if (!(v instanceof Map<?, ?>)) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "encoded payload is not a map");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) v;
    return m;
  }

  /** Decodes one encoded value. */
  public static Object fromJson(JsonNode n) {
    if (!(n instanceof ObjectNode o) || o.size() != 1) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "encoded payload value is not a one-field object: " + n);
    }
    Map.Entry<String, JsonNode> e = o.fields().next();
    JsonNode v = e.getValue();
    switch (e.getKey()) {
      case "s":
        return v.asText();
      case "b":
        return v.asBoolean();
      case "i":
        return v.asInt();
      case "j":
        return v.asLong();
      case "d":
        return v.asDouble();
      case "t":
        return Instant.parse(v.asText());
      case "x":
        return Base64.getDecoder().decode(v.asText());
      case "l": {
        List<Object> list = new ArrayList<>(v.size());
        for (JsonNode c : v) {
          list.add(fromJson(c));
        }
        return Collections.unmodifiableList(list);
      }
      case "m": {
        Map<String, Object> map = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = v.fields();
        while (it.hasNext()) {
          Map.Entry<String, JsonNode> c = it.next();
          map.put(c.getKey(), fromJson(c.getValue()));
        }
        return Collections.unmodifiableMap(map);
      }
      default:
        throw new TetherException(ErrorCode.CORRUPT_FRAME, "unknown payload value tag " + e.getKey());
    }
  }

  /**
   * Converts plain JSON (what a person types on the command line) into a payload map: objects become maps, arrays
   * lists, whole numbers Integer or Long, other numbers Double.
   */
  public static Map<String, Object> fromPlainJson(String text) {
    JsonNode n;
    try {
      n = Json.parse(text);
    } catch (RuntimeException e) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "not valid JSON: " + e.getMessage());
    }
    if (!n.isObject()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the payload must be a JSON object, got: " + text);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) plain(n, "");
    return m;
  }

  private static Object plain(JsonNode n, String path) {
    if (n.isObject()) {
      Map<String, Object> m = new LinkedHashMap<>();
      n.fields().forEachRemaining(e -> m.put(e.getKey(), plain(e.getValue(), path + "/" + e.getKey())));
      return m;
    }
    if (n.isArray()) {
      List<Object> l = new ArrayList<>();
      for (int i = 0; i < n.size(); i++) {
        l.add(plain(n.get(i), path + "[" + i + "]"));
      }
      return l;
    }
    if (n.isTextual()) {
      return n.asText();
    }
    if (n.isBoolean()) {
      return n.asBoolean();
    }
    if (n.isInt()) {
      return n.asInt();
    }
    if (n.isIntegralNumber() && n.canConvertToLong()) {
      return n.asLong();
    }
    if (n.isNumber()) {
      return n.asDouble();
    }
    throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, "the value at " + display(path) + " is JSON "
        + n.getNodeType().name().toLowerCase() + "; payloads take no nulls");
  }

  /** Plain JSON for printing a decoded payload: bytes as base64 text, dates as ISO-8601 text. */
  public static JsonNode toPlainJson(Object v) {
    if (v instanceof Map<?, ?> m) {
      ObjectNode o = Json.object();
      m.forEach((k, x) -> o.set(String.valueOf(k), toPlainJson(x)));
      return o;
    }
    if (v instanceof List<?> l) {
      ArrayNode a = Json.array();
      l.forEach(x -> a.add(toPlainJson(x)));
      return a;
    }
    if (v instanceof byte[] b) {
      return Json.MAPPER.getNodeFactory().textNode(Base64.getEncoder().encodeToString(b));
    }
    if (v instanceof Instant || v instanceof Date) {
      return Json.MAPPER.getNodeFactory().textNode(v instanceof Date d ? d.toInstant().toString() : v.toString());
    }
    return Json.MAPPER.valueToTree(v);
  }
}
