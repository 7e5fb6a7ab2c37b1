package dev.tether.protocol;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.util.RawValue;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The one JSON codec Tether uses on its wire and in its store. */
public final class Json {
  private Json() {}

  /**
   * The {@code ObjectMapper} for what only it can do (POJOs, conversions), built on first use: building one costs a
   * freshly started JVM 75–100 ms even with a class-data-sharing archive (its date format looks up calendar and
   * locale providers), and trees, frames and stored payloads never need it ({@link FrameJson} reads and writes them).
   */
  public static ObjectMapper mapper() {
    return Mapper.INSTANCE;
  }

  private static final class Mapper {
    static final ObjectMapper INSTANCE = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  }

  public static ObjectNode object() {
    return JsonNodeFactory.instance.objectNode();
  }

  public static ArrayNode array() {
    return JsonNodeFactory.instance.arrayNode();
  }

  public static String write(Object value) {
    try {
      if (value instanceof JsonNode n) {
        return FrameJson.writeString(n);
      }
      return mapper().writeValueAsString(value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The first JSON value of {@code text}, as {@link ObjectMapper#readTree(String)} reads it (missing when empty). */
  public static JsonNode parse(String text) {
    try {
      JsonNode n = FrameJson.read(text);
      return n == null ? MissingNode.getInstance() : n;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code n} as JSON text: the text it was read from when it is a payload object read from a frame (and so not
   * written out again), else {@link #write}. Nodes read from a frame must not have been changed.
   */
  public static String sourceText(JsonNode n) {
    if (n instanceof SourcedObjectNode s && s.source() != null) {
      return s.source();
    }
    return write(n);
  }

  /** A node that writes {@code json} (already valid JSON text) as it is, without parsing it. */
  public static JsonNode raw(String json) {
    return JsonNodeFactory.instance.rawValueNode(new RawValue(json));
  }

  public static ObjectNode parseObject(String text) {
    JsonNode n = parse(text);
    if (!(n instanceof ObjectNode o)) {
      throw new IllegalArgumentException("expected a JSON object, got: " + text);
    }
    return o;
  }
}
