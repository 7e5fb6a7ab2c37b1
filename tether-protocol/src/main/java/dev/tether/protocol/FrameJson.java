package dev.tether.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.POJONode;
import com.fasterxml.jackson.databind.util.RawValue;
import com.fasterxml.jackson.core.io.SegmentedStringWriter;
import com.fasterxml.jackson.core.util.BufferRecycler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;

/**
 * The JSON of frames, read and written with Jackson's streaming parser and generator straight to and from
 * {@link JsonNode} trees, giving the same trees and bytes as {@link Json#mapper()} (ints, longs and big integers by
 * size, doubles, text, booleans, nulls, arrays, objects; a repeated name keeps its last value).
 *
 * <p>It exists for start-up cost: building an {@code ObjectMapper} costs a freshly started JVM 150–200 ms of class
 * loading and initialisation, which an app tetherd launched in the background would otherwise pay before its first
 * frame. Nodes only an {@code ObjectMapper} can write (POJOs, binary) are handed to {@link Json#mapper()}.
 */
final class FrameJson {
  private static final JsonFactory FACTORY = new JsonFactory();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private FrameJson() {}

  /**
   * The first JSON value of {@code bytes}, or {@code null} when there is none; with {@code keepPayloadText},
   * {@code "payload"} objects keep their source text.
   */
  static JsonNode read(byte[] bytes, boolean keepPayloadText) throws IOException {
    try (JsonParser p = FACTORY.createParser(bytes)) {
      JsonToken t = p.nextToken();
      return t == null ? null : value(p, t, keepPayloadText ? bytes : null);
    }
  }

  /** The first JSON value of {@code text}, or {@code null} when there is none. */
  static JsonNode read(String text) throws IOException {
    try (JsonParser p = FACTORY.createParser(text)) {
      JsonToken t = p.nextToken();
      return t == null ? null : value(p, t, null);
    }
  }

  /** Something written with a generator. */
  interface Writing {
    void write(JsonGenerator g) throws IOException;
  }

  /** A parser over {@code text}. */
  static JsonParser parser(String text) throws IOException {
    return FACTORY.createParser(text);
  }

  /** What {@code writing} writes, as compact JSON text. */
  static String generate(Writing writing) throws IOException {
    BufferRecycler buffers = FACTORY._getBufferRecycler();
    try {
      SegmentedStringWriter out = new SegmentedStringWriter(buffers);
      try (JsonGenerator g = FACTORY.createGenerator(out)) {
        writing.write(g);
      }
      return out.getAndClear();
    } finally {
      buffers.releaseToPool();
    }
  }

  /** {@code n} as compact JSON text, the same text {@link Json#mapper()} writes. */
  static String writeString(JsonNode n) throws IOException {
    return generate(g -> write(g, n));
  }

  /** The value starting at token {@code t}; {@code source}, when given, is the input, for payloads' source text. */
  private static JsonNode value(JsonParser p, JsonToken t, byte[] source) throws IOException {
    switch (t) {
      case START_OBJECT: {
        ObjectNode o = NODES.objectNode();
        for (JsonToken f = p.nextToken(); f != JsonToken.END_OBJECT; f = p.nextToken()) {
          String name = p.currentName();
          JsonToken v = p.nextToken();
          o.replace(name, source != null && v == JsonToken.START_OBJECT && name.equals("payload")
              ? sourced(p, source) : value(p, v, source));
        }
        return o;
      }
      case START_ARRAY: {
        ArrayNode a = NODES.arrayNode();
        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
          a.add(value(p, e, source));
        }
        return a;
      }
      case VALUE_STRING:
        return NODES.textNode(p.getText());
      case VALUE_NUMBER_INT:
        switch (p.getNumberType()) {
          case INT:
            return NODES.numberNode(p.getIntValue());
          case LONG:
            return NODES.numberNode(p.getLongValue());
          default:
            return NODES.numberNode(p.getBigIntegerValue());
        }
      case VALUE_NUMBER_FLOAT:
        return NODES.numberNode(p.getDoubleValue());
      case VALUE_TRUE:
        return NODES.booleanNode(true);
      case VALUE_FALSE:
        return NODES.booleanNode(false);
      case VALUE_NULL:
        return NODES.nullNode();
      default:
        throw new JsonParseException(p, "unexpected JSON token " + t);
    }
  }

  /** A {@code "payload"} object (the parser is on its start), remembering the bytes it was read from. */
  private static JsonNode sourced(JsonParser p, byte[] source) throws IOException {
    long start = p.currentTokenLocation().getByteOffset();
    SourcedObjectNode o = new SourcedObjectNode(NODES);
    for (JsonToken f = p.nextToken(); f != JsonToken.END_OBJECT; f = p.nextToken()) {
      String name = p.currentName();
      o.replace(name, value(p, p.nextToken(), source));
    }
    long end = p.currentLocation().getByteOffset();
    if (start >= 0 && end > start && end <= source.length && source[(int) start] == '{' && source[(int) end - 1] == '}') {
      o.source(new String(source, (int) start, (int) (end - start), java.nio.charset.StandardCharsets.UTF_8));
    }
    return o;
  }

  /** The frame as 4 bytes left for its length, then its JSON {@code {"type":..,"id":..,"body":{..}}}. */
  static byte[] writeWithLengthPrefix(Frame frame) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    out.write(new byte[4]);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("type", frame.type());
      g.writeNumberField("id", frame.id());
      g.writeFieldName("body");
      write(g, frame.body());
      g.writeEndObject();
    }
    return out.toByteArray();
  }

  static void write(JsonGenerator g, JsonNode n) throws IOException {
    switch (n.getNodeType()) {
      case OBJECT:
        g.writeStartObject();
        for (Map.Entry<String, JsonNode> e : n.properties()) {
          g.writeFieldName(e.getKey());
          write(g, e.getValue());
        }
        g.writeEndObject();
        return;
      case ARRAY:
        g.writeStartArray();
        for (JsonNode e : n) {
          write(g, e);
        }
        g.writeEndArray();
        return;
      case STRING:
        g.writeString(n.textValue());
        return;
      case NUMBER:
        switch (n.numberType()) {
          case INT:
            g.writeNumber(n.intValue());
            return;
          case LONG:
            g.writeNumber(n.longValue());
            return;
          case BIG_INTEGER:
            g.writeNumber(n.bigIntegerValue());
            return;
          case FLOAT:
            g.writeNumber(n.floatValue());
            return;
          case DOUBLE:
            g.writeNumber(n.doubleValue());
            return;
          default:
            g.writeNumber(n.decimalValue());
            return;
        }
      case BOOLEAN:
        g.writeBoolean(n.booleanValue());
        return;
      case NULL:
        g.writeNull();
        return;
      default:
        if (n instanceof POJONode pojo && pojo.getPojo() instanceof RawValue raw && raw.rawValue() instanceof String text) {
          // payloads kept as stored text and forwarded without being parsed again
          g.writeRawValue(text);
          return;
        }
        Json.mapper().writeTree(g, n);
    }
  }
}
