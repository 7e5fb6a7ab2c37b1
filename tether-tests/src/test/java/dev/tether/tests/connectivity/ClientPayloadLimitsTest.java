package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, item 13, in the client library: a 100 MiB payload is PAYLOAD_TOO_LARGE with the limit, and 10,000 levels
 * of nesting are refused at the call as nested too deep with the limit, never in the JSON library's words.
 */
class ClientPayloadLimitsTest {
  static final String APP = "com.example.weather";

  @TempDir Path tmp;

  @Test
  void hugeAndDeeplyNestedPayloadsAreRefusedAtTheCallInTheProjectsWords() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp);
         Tether t = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
      ConnectivitySession s = t.connectivity(new ConnectivitySessionTest.Recorder());
      s.activate().get(30, TimeUnit.SECONDS);
      Map<String, Object> deep = nested(10_000);
      assertThatThrownBy(() -> s.transferUserInfo(deep)).isInstanceOfSatisfying(TetherException.class, e -> {
        assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
        assertThat(e.getMessage()).contains("user info is nested too deep").contains("256 levels");
        assertProjectWords(e);
      });
      assertThatThrownBy(() -> s.updateApplicationContext(deep)).isInstanceOfSatisfying(TetherException.class, e -> {
        assertThat(e.getMessage()).contains("nested too deep");
        assertProjectWords(e);
      });
      assertThatThrownBy(() -> t.scheduleBackgroundRefresh(Instant.now(), deep))
          .isInstanceOfSatisfying(TetherException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
            assertThat(e.getMessage()).contains("nested too deep").contains("256 levels");
            assertProjectWords(e);
          });
      // 256 levels are fine
      s.transferUserInfo(nested(256));

      String hundredMiB = "x".repeat(100 << 20);
      assertThatThrownBy(() -> s.updateApplicationContext(Map.of("blob", hundredMiB)))
          .isInstanceOfSatisfying(TetherException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
            assertThat(e.getMessage()).contains("the limit is 262144 bytes (256 KiB)");
            assertProjectWords(e);
          });
    }
  }

  /** A payload map whose lists and maps nest {@code levels} deep (the map itself is level 1). */
  private static Map<String, Object> nested(int levels) {
    Object inner = List.of();
    for (int i = 2; i < levels; i++) {
      List<Object> l = new ArrayList<>();
      l.add(inner);
      inner = l;
    }
    return Map.of("a", inner);
  }

  private static void assertProjectWords(TetherException e) {
    assertThat(e.getMessage()).doesNotContain("Constraints").doesNotContain("jackson").doesNotContain("not valid JSON");
  }
}
