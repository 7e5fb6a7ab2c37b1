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
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;

/**
 * The JSON of frames, read and written with Jackson's streaming parser and generator straight to and from
 * {@link JsonNode} trees, giving the same trees and bytes as {@link Json#MAPPER} (ints, longs and big integers by
 * size, doubles, text, booleans, nulls, arrays, objects; a repeated name keeps its last value).
 *
 * <p>It exists for start-up cost: building an {@code ObjectMapper} costs a freshly started JVM 150–200 ms of class
 * loading and initialisation, which an app tetherd launched in the background would otherwise pay before its first
 * frame. Nodes only an {@code ObjectMapper} can write (POJOs, binary) are handed to {@link Json#MAPPER}.
 */
final class FrameJson {
  private static final JsonFactory FACTORY = new JsonFactory();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private FrameJson() {}

  /** The first JSON value of {@code bytes}, or {@code null} when there is none. */
  static JsonNode read(byte[] bytes) throws IOException {
    try (JsonParser p = FACTORY.createParser(bytes)) {
      JsonToken t = p.nextToken();
      return t == null ? null : value(p, t);
    }
  }

  private static JsonNode value(JsonParser p, JsonToken t) throws IOException {
    switch (t) {
      case START_OBJECT: {
        ObjectNode o = NODES.objectNode();
        for (JsonToken f = p.nextToken(); f != JsonToken.END_OBJECT; f = p.nextToken()) {
          String name = p.currentName();
          o.replace(name, value(p, p.nextToken()));
        }
        return o;
      }
      case START_ARRAY: {
        ArrayNode a = NODES.arrayNode();
        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
          a.add(value(p, e));
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

  private static void write(JsonGenerator g, JsonNode n) throws IOException {
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
        Json.MAPPER.writeTree(g, n);
    }
  }
}
