package dev.tether.protocol;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;

/**
 * One-pass conversions between plain JSON (what people and scripts write) and the encoded payload form, for bulk
 * senders and receivers such as the CLI's {@code send --from} and {@code receive}. Each gives exactly what the
 * conversion through decoded maps gives ({@link PropertyList#fromPlainJson} then {@link PropertyList#encodeTree};
 * {@link PropertyList#fromJson} then {@link PropertyList#toPlainJson}), without building the maps.
 */
final class PlainJson {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private PlainJson() {}

  /**
   * The encoded form of a plain JSON object; errors as {@link PropertyList#fromPlainJson} gives them. {@code what}
   * and {@code maxBytes} name the payload and its limit in the errors for one too large or nested too deep.
   */
  static JsonNode encode(String text, int maxBytes, String what) {
    try (JsonParser p = FrameJson.parser(text)) {
      JsonToken t = p.nextToken();
      if (t != JsonToken.START_OBJECT) {
        if (t == null) {
          throw new TetherException(ErrorCode.INVALID_PARAMETER, "not valid JSON: no content");
        }
        // read the whole value so that invalid JSON is reported as such before its shape
        p.skipChildren();
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the payload must be a JSON object, got: " + text);
      }
      return object(p, "", null, 1, what);
    } catch (StreamConstraintsException e) {
      throw beyondReader(e, text, maxBytes, what);
    } catch (JsonProcessingException e) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The error for text the JSON reader refused by one of its own limits (a string or number longer than it takes,
   * nesting deeper than it takes), in the project's words: the payload is too large, or nested too deep, with the
   * payload limit. The reader's limits are far above the payload limits, so either is certain.
   */
  static TetherException beyondReader(StreamConstraintsException e, String text, int maxBytes, String what) {
    String m = String.valueOf(e.getOriginalMessage()).toLowerCase(java.util.Locale.ROOT);
    if (m.contains("nesting") || m.contains("depth")) {
      return PropertyList.tooDeep(what);
    }
    if (m.contains("number")) {
      return new TetherException(ErrorCode.INVALID_PARAMETER, what + " holds a number of more than 1000 digits;"
          + " payload numbers are whole numbers of 64 bits or doubles");
    }
    if (m.contains("name")) {
      return new TetherException(ErrorCode.INVALID_PARAMETER, what + " has a key of more than 50000 characters");
    }
    // a string (or the whole text) beyond the reader's limit, which is far beyond any payload limit
    return new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, what + " is more than " + maxBytes + " bytes encoded"
        + " (its JSON text is " + text.length() + " characters); the limit is " + maxBytes + " bytes ("
        + (maxBytes / 1024) + " KiB). Send large data with transferFile instead");
  }

  /** {@code {"m":{...}}} for the object the parser is on; {@code path}/{@code key} locate it, joined on error. */
  private static ObjectNode object(JsonParser p, String path, Object key, int depth, String what) throws IOException {
    if (depth > PropertyList.MAX_NESTING_DEPTH) {
      throw PropertyList.tooDeep(what);
    }
    ObjectNode o = NODES.objectNode();
    ObjectNode m = o.putObject("m");
    String here = null;
    for (JsonToken f = p.nextToken(); f != JsonToken.END_OBJECT; f = p.nextToken()) {
      String name = p.currentName();
      JsonToken v = p.nextToken();
      if (v == JsonToken.START_OBJECT || v == JsonToken.START_ARRAY) {
        if (here == null) {
          here = PropertyList.join(path, key);
        }
        m.set(name, v == JsonToken.START_OBJECT ? object(p, here, name, depth + 1, what) : array(p, here, name, depth + 1, what));
      } else {
        m.set(name, scalar(p, v, path, key, name));
      }
    }
    return o;
  }

  private static ObjectNode array(JsonParser p, String path, Object key, int depth, String what) throws IOException {
    if (depth > PropertyList.MAX_NESTING_DEPTH) {
      throw PropertyList.tooDeep(what);
    }
    ObjectNode o = NODES.objectNode();
    ArrayNode l = o.putArray("l");
    String here = PropertyList.join(path, key);
    int i = 0;
    for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
      if (e == JsonToken.START_OBJECT) {
        l.add(object(p, here, i, depth + 1, what));
      } else if (e == JsonToken.START_ARRAY) {
        l.add(array(p, here, i, depth + 1, what));
      } else {
        l.add(scalar(p, e, here, null, i));
      }
      i++;
    }
    return o;
  }

  private static ObjectNode scalar(JsonParser p, JsonToken t, String path, Object key, Object child) throws IOException {
    ObjectNode o = NODES.objectNode();
    switch (t) {
      case VALUE_STRING:
        o.put("s", p.getText());
        return o;
      case VALUE_TRUE:
      case VALUE_FALSE:
        o.put("b", t == JsonToken.VALUE_TRUE);
        return o;
      case VALUE_NUMBER_INT:
        switch (p.getNumberType()) {
          case INT:
            o.put("i", p.getIntValue());
            return o;
          case LONG:
            o.put("j", p.getLongValue());
            return o;
          default:
            o.put("d", p.getDoubleValue());
            return o;
        }
      case VALUE_NUMBER_FLOAT:
        o.put("d", p.getDoubleValue());
        return o;
      default:
        throw new TetherException(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES, "the value at "
            + PropertyList.display(PropertyList.join(PropertyList.join(path, key), child)) + " is JSON " + (t == JsonToken.VALUE_NULL ? "null" : t.name().toLowerCase())
            + "; payloads take no nulls");
    }
  }

  /** The plain JSON text of an encoded value, as {@code Json.write(toPlainJson(fromJson(encoded)))} writes it. */
  static String text(JsonNode encoded) {
    try {
      return FrameJson.generate(g -> plain(g, encoded));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code head}'s fields, then {@code field} with the plain JSON of {@code encoded}, as one JSON object's text. */
  static String objectWith(ObjectNode head, String field, JsonNode encoded) {
    try {
      return FrameJson.generate(g -> {
        g.writeStartObject();
        for (Map.Entry<String, JsonNode> e : head.properties()) {
          g.writeFieldName(e.getKey());
          FrameJson.write(g, e.getValue());
        }
        g.writeFieldName(field);
        plain(g, encoded);
        g.writeEndObject();
      });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void plain(JsonGenerator g, JsonNode n) throws IOException {
    if (!(n instanceof ObjectNode o) || o.size() != 1) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "encoded payload value is not a one-field object: " + n);
    }
    Map.Entry<String, JsonNode> e = o.properties().iterator().next();
    JsonNode v = e.getValue();
    switch (e.getKey()) {
      case "s" -> g.writeString(v.asText());
      case "b" -> g.writeBoolean(v.asBoolean());
      case "i" -> g.writeNumber(v.asInt());
      case "j" -> g.writeNumber(v.asLong());
      case "d" -> g.writeNumber(v.asDouble());
      case "t" -> g.writeString(Instant.parse(v.asText()).toString());
      case "x" -> g.writeString(Base64.getEncoder().encodeToString(Base64.getDecoder().decode(v.asText())));
      case "l" -> {
        g.writeStartArray();
        for (JsonNode c : v) {
          plain(g, c);
        }
        g.writeEndArray();
      }
      case "m" -> {
        g.writeStartObject();
        for (Map.Entry<String, JsonNode> c : v.properties()) {
          g.writeFieldName(c.getKey());
          plain(g, c.getValue());
        }
        g.writeEndObject();
      }
      default -> throw new TetherException(ErrorCode.CORRUPT_FRAME, "unknown payload value tag " + e.getKey());
    }
  }
}
