package dev.tether.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
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

  /**
   * How deep lists and maps may nest inside a payload: the payload's own map is level 1. Deeper payloads are refused
   * with PAYLOAD_TOO_LARGE at the call, well below what the JSON of frames can carry (each level takes two there).
   */
  public static final int MAX_NESTING_DEPTH = 256;

  private PropertyList() {}

  /** The error for a payload whose lists and maps nest deeper than {@link #MAX_NESTING_DEPTH}. */
  static TetherException tooDeep(String what) {
    return new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, what + " is nested too deep: its lists and maps nest more"
        + " than " + MAX_NESTING_DEPTH + " levels inside each other; the limit is " + MAX_NESTING_DEPTH + " levels");
  }

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
    return withinLimit(encoded(payload, "", null, 1, what), maxBytes, what);
  }

  private static JsonNode withinLimit(JsonNode node, int maxBytes, String what) {
    if (maxEncodedBytes(node) <= maxBytes) {
      return node;
    }
    int size = Json.write(node).getBytes(StandardCharsets.UTF_8).length;
    if (size > maxBytes) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, what + " is " + size + " bytes encoded; the limit is "
          + maxBytes + " bytes (" + (maxBytes / 1024) + " KiB). Send large data with transferFile instead");
    }
    return node;
  }

  /**
   * An upper bound of {@code n}'s size as compact UTF-8 JSON, so that small payloads need not be written out just to
   * be measured: a character takes at most 6 bytes (an escape), a number at most 25.
   */
  static long maxEncodedBytes(JsonNode n) {
    switch (n.getNodeType()) {
      case OBJECT: {
        long size = 2;
        for (Map.Entry<String, JsonNode> e : n.properties()) {
          size += 6L * e.getKey().length() + 4 + maxEncodedBytes(e.getValue());
        }
        return size;
      }
      case ARRAY: {
        long size = 2;
        for (JsonNode e : n) {
          size += 1 + maxEncodedBytes(e);
        }
        return size;
      }
      case STRING:
        return 2 + 6L * n.textValue().length();
      case NUMBER:
        return n.isBigInteger() || n.isBigDecimal() ? 1L << 40 : 25;
      default:
        return 5;
    }
  }

  /** The encoded form of one value tree (validated). */
  public static JsonNode toJson(Object value, String path) {
    return encoded(value, path, null, 1, "the payload");
  }

  /**
   * {@link #toJson}, with the value's location as its container's path and its own key or index, joined on error;
   * {@code depth} is the nesting level of the value if it is a list or map (the payload's own map is 1).
   */
  private static JsonNode encoded(Object value, String parent, Object key, int depth, String what) {
    if (depth > MAX_NESTING_DEPTH && (value instanceof List<?> || value instanceof Map<?, ?>)) {
      throw tooDeep(what);
    }
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
      String path = join(parent, key);
      int i = 0;
      for (Object e : list) {
        a.add(encoded(e, path, i, depth + 1, what));
        i++;
      }
    } else if (value instanceof Map<?, ?> map) {
      ObjectNode m = o.putObject("m");
      String path = join(parent, key);
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!(e.getKey() instanceof String name)) {
          throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, "the map at " + display(path)
              + " has a key of type " + typeName(e.getKey()) + "; property-list maps take String keys only");
        }
        m.set(name, encoded(e.getValue(), path, name, depth + 1, what));
      }
    } else {
      throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, "the value at " + display(join(parent, key)) + " is a "
          + typeName(value) + "; payloads take only String, Boolean, Integer, Long, Double, Instant/Date, byte[], "
          + "List and Map<String, ?>");
    }
    return o;
  }

  static String display(String path) {
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

  /**
   * Checks an encoded value as {@link #fromJson} would read it, without building the decoded value.
   *
   * @throws TetherException CORRUPT_FRAME when it is not a valid encoding
   */
  public static void checkEncoded(JsonNode n) {
    if (!(n instanceof ObjectNode o) || o.size() != 1) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "encoded payload value is not a one-field object: " + n);
    }
    Map.Entry<String, JsonNode> e = o.properties().iterator().next();
    JsonNode v = e.getValue();
    switch (e.getKey()) {
      case "s", "b", "i", "j", "d" -> {
        // read leniently by fromJson, as asText/asBoolean/asInt/asLong/asDouble do
      }
      case "t" -> Instant.parse(v.asText());
      case "x" -> Base64.getDecoder().decode(v.asText());
      case "l" -> {
        for (JsonNode c : v) {
          checkEncoded(c);
        }
      }
      case "m" -> {
        for (Map.Entry<String, JsonNode> c : v.properties()) {
          checkEncoded(c.getValue());
        }
      }
      default -> throw new TetherException(ErrorCode.CORRUPT_FRAME, "unknown payload value tag " + e.getKey());
    }
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
    } catch (java.io.UncheckedIOException e) {
      if (e.getCause() instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException c) {
        throw PlainJson.beyondReader(c, text, MAX_CONTEXT_BYTES, "the payload");
      }
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "not valid JSON: "
          + (e.getCause() instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getCause().getMessage()));
    } catch (RuntimeException e) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "not valid JSON: " + e.getMessage());
    }
    if (!n.isObject()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the payload must be a JSON object, got: " + text);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) plain(n, "", null);
    return m;
  }

  /** The plain value of {@code n}; {@code path} is its location, {@code key} (or index) its last step, joined only for an error. */
  private static Object plain(JsonNode n, String path, Object key) {
    if (n.isObject()) {
      String here = null;
      Map<String, Object> m = new LinkedHashMap<>();
      for (Map.Entry<String, JsonNode> e : n.properties()) {
        JsonNode c = e.getValue();
        if (c.isContainerNode() && here == null) {
          here = join(path, key);
        }
        m.put(e.getKey(), c.isContainerNode() ? plain(c, here, e.getKey()) : scalar(c, path, key, e.getKey()));
      }
      return m;
    }
    String here = join(path, key);
    List<Object> l = new ArrayList<>(n.size());
    for (int i = 0; i < n.size(); i++) {
      JsonNode c = n.get(i);
      l.add(c.isContainerNode() ? plain(c, here, i) : scalar(c, here, null, i));
    }
    return l;
  }

  private static Object scalar(JsonNode n, String path, Object key, Object child) {
    if (n.isTextual()) {
      return n.textValue();
    }
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    if (n.isInt()) {
      return n.intValue();
    }
    if (n.isIntegralNumber() && n.canConvertToLong()) {
      return n.asLong();
    }
    if (n.isNumber()) {
      return n.asDouble();
    }
    throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, "the value at " + display(join(join(path, key), child))
        + " is JSON " + n.getNodeType().name().toLowerCase() + "; payloads take no nulls");
  }

  /** {@code path} with one more step: {@code /key} or {@code [index]} (none when {@code key} is null). */
  static String join(String path, Object key) {
    if (key == null) {
      return path;
    }
    return key instanceof Integer i ? path + "[" + i + "]" : path + "/" + key;
  }

  /**
   * {@code encodeTree(fromPlainJson(text), maxBytes, what)} in one pass, for senders of many payloads.
   *
   * @throws TetherException as those two do
   */
  public static JsonNode encodePlainJson(String text, int maxBytes, String what) {
    return withinLimit(PlainJson.encode(text, maxBytes, what), maxBytes, what);
  }

  /**
   * The JSON text of {@code head} with one more field, {@code field}, holding the plain JSON of {@code encoded}: what
   * {@code head.set(field, toPlainJson(fromJson(encoded)))} would write, in one pass (for receivers printing many).
   */
  public static String plainTextWith(ObjectNode head, String field, JsonNode encoded) {
    return PlainJson.objectWith(head, field, encoded);
  }

  /** {@code Json.write(toPlainJson(fromJson(encoded)))} in one pass, for receivers printing many payloads. */
  static String plainText(JsonNode encoded) {
    return PlainJson.text(encoded);
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
      return JsonNodeFactory.instance.textNode(Base64.getEncoder().encodeToString(b));
    }
    if (v instanceof Instant || v instanceof Date) {
      return JsonNodeFactory.instance.textNode(v instanceof Date d ? d.toInstant().toString() : v.toString());
    }
    JsonNodeFactory f = JsonNodeFactory.instance;
    if (v instanceof String t) {
      return f.textNode(t);
    }
    if (v instanceof Boolean b) {
      return f.booleanNode(b);
    }
    if (v instanceof Integer i) {
      return f.numberNode(i);
    }
    if (v instanceof Long l) {
      return f.numberNode(l);
    }
    if (v instanceof Double d) {
      return f.numberNode(d);
    }
    return Json.mapper().valueToTree(v);
  }
}
