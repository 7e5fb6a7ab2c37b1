package dev.tether.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The codec reads and writes frames with Jackson's streaming API, not an {@code ObjectMapper}; these checks hold it
 * to what {@link Json#mapper()} gives for the same JSON: equal trees with the same node classes, and the same bytes.
 */
class FrameCodecMatchesObjectMapperTest {
  private static final String FRAME = "{\"type\":\"t.x\",\"id\":9223372036854775807,\"body\":{"
      + "\"int\":-7,\"long\":4294967296,\"big\":123456789012345678901234567890,\"double\":1.5e-3,"
      + "\"neg\":-0.0,\"text\":\"caf\\u00e9 \\\"q\\\" \\n \\ud83d\\ude00\",\"yes\":true,\"no\":false,\"nothing\":null,"
      + "\"list\":[1,2.5,\"s\",[],{},[null,{\"deep\":[{\"x\":1}]}]],\"obj\":{\"a\":{\"b\":{}}},\"dup\":1,\"dup\":\"last\"}}";
  private final FrameCodec codec = new FrameCodec();

  @Test
  void decodesTheSameTreeAsTheObjectMapper() throws Exception {
    Frame frame = codec.decode(FRAME.getBytes(StandardCharsets.UTF_8));
    JsonNode expected = Json.mapper().readTree(FRAME).get("body");

    assertThat(frame.type()).isEqualTo("t.x");
    assertThat(frame.id()).isEqualTo(Long.MAX_VALUE);
    assertThat(frame.body()).isEqualTo(expected);
    assertSameNodeClasses(frame.body(), expected);
    assertThat(frame.body().get("dup").asText()).isEqualTo("last");
  }

  @Test
  void encodesTheSameBytesAsTheObjectMapper() throws Exception {
    ObjectNode body = (ObjectNode) Json.mapper().readTree(FRAME).get("body");
    body.put("float", 0.25f);
    body.put("decimal", new BigDecimal("12.3400"));
    body.put("short", (short) 3);
    body.put("bigint", BigInteger.TEN.pow(30));
    byte[] encoded = codec.encode(new Frame("t.y", 42, body));

    ObjectNode whole = Json.object();
    whole.put("type", "t.y");
    whole.put("id", 42L);
    whole.set("body", body);
    byte[] json = Arrays.copyOfRange(encoded, 4, encoded.length);
    assertThat(new String(json, StandardCharsets.UTF_8))
        .isEqualTo(new String(Json.mapper().writeValueAsBytes(whole), StandardCharsets.UTF_8));
    int length = ((encoded[0] & 0xff) << 24) | ((encoded[1] & 0xff) << 16) | ((encoded[2] & 0xff) << 8) | (encoded[3] & 0xff);
    assertThat(length).isEqualTo(json.length);
  }

  @Test
  void refusesWhatIsNotAFrameAsCorrupt() {
    for (String bad : new String[] {"", " ", "[1]", "\"type\"", "{\"type\":1}", "{\"id\":1}", "{\"type\":\"a\",\"body\":[]}",
        "{\"type\":\"a\",\"body\":3}", "{\"type\":\"a\"", "{\"type\":\"a\",}", "{\"type\":\"a\",\"body\":{\"x\":}}", "nul"}) {
      assertThatThrownBy(() -> codec.decode(bad.getBytes(StandardCharsets.UTF_8)))
          .as(bad)
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_FRAME));
    }
  }

  @Test
  void aNullOrMissingBodyReadsAsAnEmptyObject() {
    assertThat(codec.decode("{\"type\":\"a\",\"body\":null}".getBytes(StandardCharsets.UTF_8)).body()).isEqualTo(Json.object());
    assertThat(codec.decode("{\"type\":\"a\"}".getBytes(StandardCharsets.UTF_8)).body()).isEqualTo(Json.object());
  }

  private static void assertSameNodeClasses(JsonNode actual, JsonNode expected) {
    assertThat(actual.getClass()).as(expected.toString()).isEqualTo(expected.getClass());
    if (expected.isContainerNode()) {
      assertThat(actual.size()).isEqualTo(expected.size());
      if (expected.isArray()) {
        for (int i = 0; i < expected.size(); i++) {
          assertSameNodeClasses(actual.get(i), expected.get(i));
        }
      } else {
        expected.properties().forEach(e -> assertSameNodeClasses(actual.get(e.getKey()), e.getValue()));
      }
    }
  }
}
