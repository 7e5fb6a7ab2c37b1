package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tether send message} to the primary's app wakes it; with {@code tether receive} as the app's launch command,
 * the message is one of the deliveries it writes, not answered unseen.
 */
class CliMessageReceiveTest {
  static final String APP = "com.example.chat";
  @TempDir Path tmp;

  @Test
  void aMessageThatWakesTetherReceiveIsWrittenAsADelivery() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path out = tmp.resolve("primary.jsonl");
      String launch = JavaProcesses.javaCommand("dev.tether.cli.Main", "--home", d.primary.home().toString(), "receive",
          "--app", APP, "--out", out.toString()).stream().map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
      Cli.Result reg = Cli.run(d.primary.home(), "app", "register", APP, "--launch", launch);
      assertThat(reg.exitCode()).as(reg.toString()).isZero();

      Cli.Result sent = Cli.run(d.companion.home(), "send", "message", "--app", APP, "{\"text\":\"ping\",\"n\":1}", "--timeout", "60");
      assertThat(sent.exitCode()).as(sent.toString()).isZero();
      assertThat(Json.parse(sent.out().trim()).size()).isZero(); // the reply: empty

      await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(out) && !Files.readString(out).isEmpty());
      List<JsonNode> lines = Files.readAllLines(out).stream().map(Json::parse).toList();
      assertThat(lines).singleElement().satisfies(l -> {
        assertThat(l.path("kind").asText()).isEqualTo("message");
        assertThat(l.path("payload").path("text").asText()).isEqualTo("ping");
        assertThat(l.path("payload").path("n").asInt()).isEqualTo(1);
      });
    }
  }
}
