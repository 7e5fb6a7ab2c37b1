package dev.tether.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Payload text on the hot path: {@link Json#write}/{@link Json#parse} give what the ObjectMapper gives, a payload read
 * from a frame keeps its source text ({@link Json#sourceText}) so daemons store it without writing it again, and the
 * size limit and error paths of {@link PropertyList} hold. Random payloads come from a seeded {@link Random}.
 */
class PayloadTextTest {
  private final FrameCodec codec = FrameCodec.keepingPayloadText();

  @Test
  void writeAndParseMatchTheObjectMapperOnRandomPayloads() throws Exception {
    Random random = new Random(20261122);
    for (int i = 0; i < 500; i++) {
      JsonNode encoded = PropertyList.toJson(randomMap(random, 3), "");
      String text = Json.write(encoded);
      assertThat(text).isEqualTo(Json.mapper().writeValueAsString(encoded));
      assertThat(Json.parse(text)).isEqualTo(Json.mapper().readTree(text));
    }
    assertThat(Json.parse("").isMissingNode()).isTrue();
    assertThatThrownBy(() -> Json.parse("{\"a\":")).isInstanceOf(java.io.UncheckedIOException.class);
  }

  @Test
  void aPayloadReadFromAFrameKeepsItsSourceText() {
    Random random = new Random(7);
    for (int i = 0; i < 300; i++) {
      JsonNode payload = PropertyList.toJson(randomMap(random, 3), "");
      ObjectNode item = Json.object();
      item.put("seq", i);
      item.set("payload", payload);
      ObjectNode body = Json.object();
      body.set("payload", payload.deepCopy());
      ArrayNode items = body.putArray("items");
      items.add(item);
      byte[] wire = codec.encode(new Frame("cx.items", i, body));
      Frame decoded = codec.decode(Arrays.copyOfRange(wire, 4, wire.length));

      JsonNode top = decoded.body().get("payload");
      JsonNode nested = decoded.body().get("items").get(0).get("payload");
      assertThat(top).isEqualTo(payload);
      assertThat(nested).isEqualTo(payload);
      // the frame's bytes for the value: the same JSON (characters outside the BMP may be written as escapes there)
      assertThat(Json.parse(Json.sourceText(top))).isEqualTo(payload);
      assertThat(Json.parse(Json.sourceText(nested))).isEqualTo(payload);
      assertThat(Json.sourceText(nested)).isEqualTo(Json.sourceText(top));
      String written = Json.write(payload);
      if (written.codePoints().allMatch(c -> c < 0x10000)) {
        assertThat(Json.sourceText(top)).isEqualTo(written);
      }
    }
  }

  @Test
  void sourceTextOfAPrettyFrameIsItsOwnTextAndReadsBackTheSame() {
    String frame = "{ \"type\" : \"x\", \"id\" : 1, \"body\" : { \"payload\" : { \"m\" : { \"caf\u00e9\" : { \"s\" : \"\\u00e9 \\\"q\\\"\" } } } } }";
    Frame f = codec.decode(frame.getBytes(StandardCharsets.UTF_8));
    JsonNode payload = f.body().get("payload");
    String source = Json.sourceText(payload);
    assertThat(source).startsWith("{").endsWith("}").contains("caf\u00e9");
    assertThat(Json.parse(source)).isEqualTo(payload);
    assertThat(PropertyList.decode(source)).isEqualTo(Map.of("caf\u00e9", "\u00e9 \"q\""));
  }

  @Test
  void anAppsCodecDoesNotKeepPayloadText() {
    byte[] wire = new FrameCodec().encode(new Frame("x", 1, Json.parseObject("{\"payload\":{\"m\":{}}}")));
    JsonNode payload = new FrameCodec().decode(Arrays.copyOfRange(wire, 4, wire.length)).body().get("payload");
    assertThat(payload.getClass()).isEqualTo(ObjectNode.class);
    assertThat(Json.sourceText(payload)).isEqualTo("{\"m\":{}}");
  }

  @Test
  void nodesNotReadFromAFrameAreWrittenOut() {
    ObjectNode built = Json.object();
    built.putObject("m").putObject("k").put("i", 3);
    assertThat(Json.sourceText(built)).isEqualTo("{\"m\":{\"k\":{\"i\":3}}}");
    assertThat(Json.sourceText(Json.parse("{\"payload\":{\"m\":{}}}").get("payload"))).isEqualTo("{\"m\":{}}");
  }

  @Test
  void theSizeLimitHoldsExactlyAtTheBoundary() {
    // {"m":{"k":{"s":"..."}}} is 20 bytes around the text
    int limit = 1000;
    String fits = "a".repeat(limit - 20);
    assertThat(Json.write(PropertyList.encodeTree(Map.of("k", fits), limit, "user info"))).hasSize(limit);
    assertThatThrownBy(() -> PropertyList.encodeTree(Map.of("k", fits + "a"), limit, "user info"))
        .isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
          assertThat(e.getMessage()).contains("1001 bytes encoded");
        });
    // escapes and multi-byte characters count as what they encode to
    String quotes = "\"".repeat((limit - 20) / 2);
    assertThat(Json.write(PropertyList.encodeTree(Map.of("k", quotes), limit, "user info"))).hasSize(limit);
    assertThatThrownBy(() -> PropertyList.encodeTree(Map.of("k", "\u00e9".repeat(limit / 2)), limit, "user info"))
        .isInstanceOf(TetherException.class);
  }

  @Test
  void errorsNameTheOffendingPath() {
    assertThatThrownBy(() -> PropertyList.fromPlainJson("{\"a\":{\"b\":[1,{\"c\":null}]}}"))
        .hasMessageContaining("/a/b[1]/c");
    assertThatThrownBy(() -> PropertyList.fromPlainJson("{\"a\":[1,[2,null]]}"))
        .hasMessageContaining("/a[1][1]");
    assertThatThrownBy(() -> PropertyList.fromPlainJson("{\"top\":null}")).hasMessageContaining("/top");
    Map<String, Object> bad = new LinkedHashMap<>();
    bad.put("ok", List.of(1, Map.of("inner", new Object())));
    assertThatThrownBy(() -> PropertyList.encodeTree(bad, 1000, "user info"))
        .isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES);
          assertThat(e.getMessage()).contains("/ok[1]/inner");
        });
    Map<String, Object> plain = PropertyList.fromPlainJson("{\"n\":1,\"big\":4294967296,\"d\":2.5,\"s\":\"x\",\"l\":[true,{\"k\":[]}]}");
    assertThat(plain).isEqualTo(Map.of("n", 1, "big", 4294967296L, "d", 2.5, "s", "x",
        "l", List.of(true, Map.of("k", List.of()))));
    assertThat(Json.write(PropertyList.toPlainJson(plain))).isEqualTo("{\"n\":1,\"big\":4294967296,\"d\":2.5,\"s\":\"x\",\"l\":[true,{\"k\":[]}]}");
  }

  @Test
  void onePassConversionsMatchTheWayThroughMaps() {
    Random random = new Random(99);
    for (int i = 0; i < 500; i++) {
      Map<String, Object> decoded = PropertyList.decode(Json.write(PropertyList.toJson(randomMap(random, 4), "")));
      String plain = Json.write(PropertyList.toPlainJson(decoded));
      assertThat(PropertyList.encodePlainJson(plain, 1 << 20, "user info"))
          .isEqualTo(PropertyList.encodeTree(PropertyList.fromPlainJson(plain), 1 << 20, "user info"));
      JsonNode encoded = PropertyList.toJson(decoded, "");
      assertThat(PropertyList.plainText(encoded)).isEqualTo(Json.write(PropertyList.toPlainJson(PropertyList.fromJson(encoded))));
      ObjectNode head = Json.object();
      head.put("kind", "userInfo");
      head.put("id", "\"odd\" id " + i);
      String with = PropertyList.plainTextWith(head, "payload", encoded);
      head.set("payload", PropertyList.toPlainJson(PropertyList.fromJson(encoded)));
      assertThat(with).isEqualTo(Json.write(head));
    }
    for (String plain : List.of("{}", "{\"big\":123456789012345678901234567890,\"e\":1e400,\"neg\":-0.0}",
        "{\"a\":[[],[{}],{\"b\":[1,[2,[3]]]}]} trailing")) {
      assertThat(PropertyList.encodePlainJson(plain, 1 << 20, "x"))
          .isEqualTo(PropertyList.encodeTree(PropertyList.fromPlainJson(plain), 1 << 20, "x"));
    }
    for (String bad : List.of("{\"a\":{\"b\":[1,{\"c\":null}]}}", "{\"a\":[1,[2,null]]}", "[1]", "\"text\"", "{\"a\":", "",
        "{\"a\":1,}")) {
      Throwable twoPass = catchThrowable(() -> PropertyList.fromPlainJson(bad));
      Throwable onePass = catchThrowable(() -> PropertyList.encodePlainJson(bad, 1 << 20, "x"));
      assertThat(onePass).as(bad).isInstanceOf(TetherException.class);
      assertThat(((TetherException) onePass).code()).as(bad).isEqualTo(((TetherException) twoPass).code());
      if (((TetherException) twoPass).code() == ErrorCode.PAYLOAD_UNSUPPORTED_TYPES) {
        assertThat(onePass.getMessage()).isEqualTo(twoPass.getMessage());
      }
    }
    String big = "{\"k\":\"" + "a".repeat(2000) + "\"}";
    assertThatThrownBy(() -> PropertyList.encodePlainJson(big, 1000, "user info"))
        .hasMessageContaining("user info is 2020 bytes encoded");
  }

  @Test
  void checkEncodedRefusesWhatDecodingRefuses() {
    for (String bad : List.of("{\"q\":1}", "{\"s\":\"a\",\"b\":true}", "{\"m\":{\"k\":{\"t\":\"not a time\"}}}", "[]",
        "{\"l\":[{\"x\":\"%%%\"}]}")) {
      JsonNode n = Json.parse(bad);
      Throwable decoding = catchThrowable(() -> PropertyList.fromJson(n));
      Throwable checking = catchThrowable(() -> PropertyList.checkEncoded(n));
      assertThat(decoding).as(bad).isNotNull();
      assertThat(checking).as(bad).isNotNull().isInstanceOf(decoding.getClass());
    }
    PropertyList.checkEncoded(PropertyList.toJson(Map.of("t", Instant.EPOCH, "x", new byte[] {1, 2}), ""));
  }

  private static Throwable catchThrowable(Runnable r) {
    try {
      r.run();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  private static Map<String, Object> randomMap(Random random, int depth) {
    Map<String, Object> m = new LinkedHashMap<>();
    int n = random.nextInt(5);
    for (int i = 0; i < n; i++) {
      m.put(randomText(random), randomValue(random, depth - 1));
    }
    return m;
  }

  private static Object randomValue(Random random, int depth) {
    switch (random.nextInt(depth > 0 ? 9 : 7)) {
      case 0:
        return randomText(random);
      case 1:
        return random.nextBoolean();
      case 2:
        return random.nextInt();
      case 3:
        return random.nextLong();
      case 4:
        return random.nextDouble() * Math.pow(10, random.nextInt(40) - 20);
      case 5:
        return Instant.ofEpochMilli(random.nextLong() >>> 24);
      case 6: {
        byte[] b = new byte[random.nextInt(8)];
        random.nextBytes(b);
        return b;
      }
      case 7: {
        List<Object> l = new ArrayList<>();
        int n = random.nextInt(4);
        for (int i = 0; i < n; i++) {
          l.add(randomValue(random, depth - 1));
        }
        return l;
      }
      default:
        return randomMap(random, depth - 1);
    }
  }

  private static String randomText(Random random) {
    String alphabet = "ab\"\\\n\u00e9\u4e2d\ud83d\ude00 /";
    StringBuilder s = new StringBuilder();
    int n = random.nextInt(6);
    for (int i = 0; i < n; i++) {
      char c = alphabet.charAt(random.nextInt(alphabet.length()));
      if (Character.isHighSurrogate(c)) {
        s.append(c).append('\ude00');
      } else if (!Character.isLowSurrogate(c)) {
        s.append(c);
      }
    }
    return s.toString();
  }
}
