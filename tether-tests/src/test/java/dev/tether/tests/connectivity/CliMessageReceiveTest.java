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

  @Test
  void aMessageToAnAppThePrimaryWillNotLaunchFailsAtOnceSayingWhy() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      long start = System.nanoTime();
      Cli.Result unknown = Cli.run(d.companion.home(), "send", "message", "--app", "com.example.unknown", "{\"a\":1}", "--timeout", "60");
      assertThat(unknown.exitCode()).as(unknown.toString()).isEqualTo(1);
      assertThat(unknown.err()).contains("NOT_REACHABLE").contains("no app com.example.unknown is registered");

      Cli.Result reg = Cli.run(d.primary.home(), "app", "register", APP, "--launch", "exit 0");
      assertThat(reg.exitCode()).as(reg.toString()).isZero();
      assertThat(Cli.run(d.primary.home(), "app", "stop", APP, "--force").exitCode()).isZero();
      Cli.Result quit = Cli.run(d.companion.home(), "send", "message", "--app", APP, "{\"a\":1}", "--timeout", "60");
      assertThat(quit.exitCode()).as(quit.toString()).isEqualTo(1);
      assertThat(quit.err()).contains("NOT_REACHABLE").contains("force-quit");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(50));
    }
  }

  @Test
  void aMessageWhoseSenderGaveUpIsNotDeliveredWhenTheAppStartsLater() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path out = tmp.resolve("late.jsonl");
      String receive = JavaProcesses.javaCommand("dev.tether.cli.Main", "--home", d.primary.home().toString(), "receive",
          "--app", APP, "--out", out.toString()).stream().map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
      // an app that takes longer to start than the sender waits
      Cli.Result reg = Cli.run(d.primary.home(), "app", "register", APP, "--launch", "sleep 5; exec " + receive);
      assertThat(reg.exitCode()).as(reg.toString()).isZero();

      Cli.Result sent = Cli.run(d.companion.home(), "send", "message", "--app", APP, "{\"stale\":true}", "--timeout", "2");
      assertThat(sent.exitCode()).as(sent.toString()).isEqualTo(1);
      assertThat(sent.err()).contains("MESSAGE_REPLY_TIMED_OUT");

      await().atMost(Duration.ofSeconds(60)).until(() -> {
        Cli.Result t = Cli.run(d.primary.home(), "timeline", APP, "--json");
        JsonNode wakes = Json.parse(t.out()).path("wakes");
        return wakes.size() == 1 && wakes.get(0).path("outcome").asText().equals("COMPLETED");
      });
      assertThat(Files.exists(out) ? Files.readString(out) : "").doesNotContain("stale");
    }
  }
}
