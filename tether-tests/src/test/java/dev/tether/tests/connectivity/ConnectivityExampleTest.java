package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.examples.connectivity.ConnectivityExample;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The connectivity example, both halves as real processes on two paired daemons. */
class ConnectivityExampleTest {
  @TempDir Path tmp;

  @Test
  void theSenderExitsAndTheReceiverIsLaunchedWithAConnectivityTask() throws Exception {
    String app = ConnectivityExample.APP_ID;
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path out = tmp.resolve("received.txt");
      String launch = JavaProcesses.javaCommand(ConnectivityExample.class.getName(), "--out", out.toString()).stream()
          .map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
      try (DaemonClient admin = d.companion.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("app", app);
        b.put("launch", launch);
        admin.call("app.register", b);
      }
      ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand(ConnectivityExample.class.getName(),
          "send", "city=Lyon", "temperatureC=21"));
      pb.environment().put("TETHER_HOME", d.primary.home().toString());
      pb.redirectErrorStream(true);
      Process sender = pb.start();
      String said = new String(sender.getInputStream().readAllBytes());
      assertThat(sender.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(sender.exitValue()).as(said).isZero();
      assertThat(said).contains("queued user info");

      await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(out)
          && Files.readAllLines(out).contains("drained; completing the connectivity task"));
      List<String> lines = Files.readAllLines(out);
      assertThat(lines).containsExactly("userInfo {city=Lyon, temperatureC=21}", "drained; completing the connectivity task");
      try (DaemonClient admin = d.companion.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("app", app);
        await().atMost(Duration.ofSeconds(30)).until(() ->
            admin.call("timeline", b).path("wakes").path(0).path("outcome").asText("").equals("COMPLETED"));
        JsonNode wake = admin.call("timeline", b).path("wakes").get(0);
        assertThat(wake.path("launched").asBoolean()).isTrue();
        assertThat(wake.path("tasks").get(0).path("kind").asText()).isEqualTo("connectivity");
      }
    }
  }
}
