package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** tetherd runs with a heap cap: 512 MiB unless $TETHER_DAEMON_HEAP says otherwise, shown by daemon status. */
class DaemonHeapCapTest {
  private static final long MIB = 1024 * 1024;

  @TempDir Path tmp;

  private static long maxHeap(Path home, Map<String, String> env) {
    Cli.Result start = Cli.run(home, env, "daemon", "start");
    assertThat(start.exitCode()).as(start.toString()).isZero();
    try {
      JsonNode status = Json.parse(Cli.run(home, "daemon", "status", "--json").out());
      assertThat(Cli.run(home, "daemon", "status").out()).contains("heap cap");
      return status.path("maxHeapBytes").asLong();
    } finally {
      Cli.run(home, "daemon", "stop");
    }
  }

  @Test
  void theDaemonsHeapIsCappedAt512MiBByDefault() {
    assertThat(maxHeap(tmp.resolve("home"), Map.of())).isBetween(400 * MIB, 512 * MIB);
  }

  @Test
  void theCapIsConfigurable() {
    assertThat(maxHeap(tmp.resolve("home"), Map.of("TETHER_DAEMON_HEAP", "96m"))).isBetween(64 * MIB, 96 * MIB);
  }

  @Test
  void aCapThatIsNotASizeIsRefusedWithWhatToWrite() {
    Path home = tmp.resolve("home");
    Cli.Result start = Cli.run(home, Map.of("TETHER_DAEMON_HEAP", "lots"), "daemon", "start");
    assertThat(start.exitCode()).as(start.toString()).isNotZero();
    assertThat(start.err() + start.out()).contains("TETHER_DAEMON_HEAP").contains("such as 256m or 1g");
    assertThat(Cli.run(home, "daemon", "status").exitCode()).isEqualTo(3);
  }
}
