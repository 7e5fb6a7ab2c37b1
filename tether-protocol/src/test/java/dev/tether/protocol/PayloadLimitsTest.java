package dev.tether.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Payloads beyond the size and nesting limits are refused in the project's words, never the JSON library's. */
class PayloadLimitsTest {
  @Test
  void nestingBeyondTheLimitIsTooDeepOnEveryPath() {
    String deep = "{\"a\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}";
    String justOver = "{\"a\":" + "[".repeat(PropertyList.MAX_NESTING_DEPTH) + "]".repeat(PropertyList.MAX_NESTING_DEPTH) + "}";
    String atLimit = "{\"a\":" + "{\"b\":".repeat(PropertyList.MAX_NESTING_DEPTH - 2) + "[]"
        + "}".repeat(PropertyList.MAX_NESTING_DEPTH - 2) + "}";
    for (String text : List.of(deep, justOver)) {
      assertTooDeep(catchThrowableOfType(() -> PropertyList.encodePlainJson(text, 1 << 20, "user info"), TetherException.class),
          "user info");
      assertTooDeep(catchThrowableOfType(() -> PropertyList.encodeTree(PropertyList.fromPlainJson(text), 1 << 20, "user info"),
          TetherException.class), "");
    }
    assertTooDeep(catchThrowableOfType(() -> PropertyList.encodePlainJson("[" + deep + "]", 1 << 20, "x"),
        TetherException.class), "x");
    assertThat(PropertyList.encodePlainJson(atLimit, 1 << 20, "x"))
        .isEqualTo(PropertyList.encodeTree(PropertyList.fromPlainJson(atLimit), 1 << 20, "x"));

    Object inner = List.of();
    for (int i = 0; i < 10_000; i++) {
      List<Object> l = new ArrayList<>();
      l.add(inner);
      inner = l;
    }
    Map<String, Object> map = Map.of("a", inner);
    assertTooDeep(catchThrowableOfType(() -> PropertyList.encodeTree(map, 1 << 20, "application context"),
        TetherException.class), "application context");
  }

  @Test
  void aStringBeyondTheJsonReadersLimitIsTooLargeWithThePayloadLimit() {
    String huge = "{\"blob\":\"" + "x".repeat(30 << 20) + "\"}";
    TetherException e = catchThrowableOfType(() -> PropertyList.encodePlainJson(huge, PropertyList.MAX_MESSAGE_BYTES,
        "user info"), TetherException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
    assertThat(e.getMessage()).startsWith("user info is more than 65536 bytes encoded")
        .contains("the limit is 65536 bytes (64 KiB)");
    assertLibraryHidden(e);
    TetherException two = catchThrowableOfType(() -> PropertyList.fromPlainJson(huge), TetherException.class);
    assertThat(two.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
    assertLibraryHidden(two);
  }

  private static void assertTooDeep(TetherException e, String what) {
    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
    assertThat(e.getMessage()).startsWith(what).contains("is nested too deep")
        .contains("the limit is " + PropertyList.MAX_NESTING_DEPTH + " levels");
    assertLibraryHidden(e);
  }

  private static void assertLibraryHidden(TetherException e) {
    assertThat(e.getMessage()).doesNotContain("Constraints").doesNotContain("not valid JSON");
  }
}
