package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.PropertyList;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The payload codec: types survive the round trip, bad values are named by path, limits are enforced. */
class PropertyListTest {
  @Test
  void everyPropertyListTypeSurvivesTheRoundTrip() {
    Instant t = Instant.parse("2026-03-04T05:06:07.123456789Z");
    Map<String, Object> in = Map.of("s", "ünïcode ✓", "b", false, "i", -3, "j", Long.MAX_VALUE, "d", -0.25,
        "t", t, "x", new byte[] {0, (byte) 255}, "l", List.of(List.of(), Map.of()), "m", Map.of("deep", Map.of("er", 1)));
    Map<String, Object> out = PropertyList.decode(PropertyList.encode(in, PropertyList.MAX_MESSAGE_BYTES, "user info"));
    assertThat(out.get("s")).isEqualTo("ünïcode ✓");
    assertThat(out.get("b")).isEqualTo(false);
    assertThat(out.get("i")).isEqualTo(-3);
    assertThat(out.get("j")).isEqualTo(Long.MAX_VALUE);
    assertThat(out.get("d")).isEqualTo(-0.25);
    assertThat(out.get("t")).isEqualTo(t);
    assertThat((byte[]) out.get("x")).containsExactly(0, 255);
    assertThat(out.get("l")).isEqualTo(List.of(List.of(), Map.of()));
    assertThat(out.get("m")).isEqualTo(Map.of("deep", Map.of("er", 1)));
    Date date = Date.from(t);
    assertThat(PropertyList.decode(PropertyList.encode(Map.of("when", date), 1024, "x")).get("when")).isEqualTo(date.toInstant());
  }

  @Test
  void unsupportedValuesAreNamedByTheirPath() {
    Map<String, Object> withNull = new HashMap<>();
    withNull.put("gone", null);
    assertThatThrownBy(() -> PropertyList.encode(Map.of("a", List.of(Map.of("b", withNull))), 1024, "user info"))
        .isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES);
          assertThat(e.getMessage()).contains("/a[0]/b/gone").contains("null");
        });
    assertThatThrownBy(() -> PropertyList.encode(Map.of("k", Map.of(1, "x")), 1024, "user info"))
        .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.getMessage()).contains("/k").contains("String keys"));
    assertThatThrownBy(() -> PropertyList.encode(Map.of("k", new StringBuilder("x")), 1024, "user info"))
        .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.getMessage()).contains("java.lang.StringBuilder"));
    assertThatThrownBy(() -> PropertyList.fromPlainJson("{\"a\":[1,null]}"))
        .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.getMessage()).contains("/a[1]"));
  }

  @Test
  void limitsApplyToTheEncodedForm() {
    assertThat(PropertyList.encode(Map.of("x", "y".repeat(60 * 1024)), PropertyList.MAX_MESSAGE_BYTES, "user info")).isNotEmpty();
    assertThatThrownBy(() -> PropertyList.encode(Map.of("x", "y".repeat(65 * 1024)), PropertyList.MAX_MESSAGE_BYTES, "user info"))
        .isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
          assertThat(e.getMessage()).contains("65536");
        });
    assertThat(PropertyList.encode(Map.of("x", "y".repeat(250 * 1024)), PropertyList.MAX_CONTEXT_BYTES, "context")).isNotEmpty();
  }
}
