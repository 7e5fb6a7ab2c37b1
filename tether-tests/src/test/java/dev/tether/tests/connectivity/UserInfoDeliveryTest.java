package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import dev.tether.tests.support.DeliveryChecker;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 10,000 user info transfers from an app on the primary to its counterpart on the companion, while the companion's
 * daemon is killed with SIGKILL and restarted twice and the receiving app once: every transfer reaches the app exactly
 * once, in order.
 */
class UserInfoDeliveryTest {
  static final String APP = "com.example.counter";
  static final int N = 10_000;

  @TempDir Path tmp;

  @Test
  void tenThousandTransfersSurviveKilledDaemonsAndAppExactlyOnceInOrder() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path out = tmp.resolve("received.jsonl");
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out);
      DeliveryChecker checker = new DeliveryChecker();
      List<CompletableFuture<Void>> acks = new ArrayList<>();
      try (DaemonClient sender = d.primary.client(APP)) {
        for (int i = 0; i < N; i++) {
          long n = i;
          ObjectNode b = Json.object();
          b.set("payload", PropertyList.encodeTree(Map.of("n", n, "text", "transfer " + n), PropertyList.MAX_MESSAGE_BYTES, "user info"));
          checker.attempted(n);
          acks.add(sender.request("cx.userinfo", b).thenAccept(r -> checker.acknowledged(n)));
          if (acks.size() % 1000 == 0) {
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).join();
          }
          if (i == 2_000) {
            await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() > 500);
            d.companion.kill9();
            d.companion.start();
          }
          if (i == 5_000) {
            await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() > 2_500);
            receiver.kill9();
            receiver = ReceiverProcess.start(d.companion.home(), APP, out);
          }
          if (i == 7_500) {
            d.companion.kill9();
            d.companion.start();
          }
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).join();
      }
      await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
          .until(() -> ReceiverProcess.lines(out).size() >= N);
      receiver.close();
      for (String line : ReceiverProcess.lines(out)) {
        JsonNode j = Json.parse(line);
        assertThat(j.path("kind").asText()).isEqualTo("userInfo");
        checker.received(j.path("payload").path("n").asLong());
      }
      DeliveryChecker.Verdict v = checker.check();
      assertThat(v.valid()).as(v.toString()).isTrue();
      assertThat(v.acknowledged()).isEqualTo(N);
      assertThat(v.received()).isEqualTo(N);
      try (DaemonClient s = d.primary.client(APP)) {
        assertThat(s.call("cx.outstanding", Json.object()).path("userInfo").size()).isZero();
      }
    }
  }

  @Test
  void largeTransfersFromTheCliTravelInBoundedFramesAndAnAppCannotAcknowledgeAnotherAppsData() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      java.nio.file.Path lines = tmp.resolve("big.jsonl");
      StringBuilder sb = new StringBuilder();
      String filler = "x".repeat(60 * 1024);
      for (int i = 0; i < 300; i++) {
        sb.append("{\"n\":").append(i).append(",\"filler\":\"").append(filler).append("\"}\n");
      }
      java.nio.file.Files.writeString(lines, sb);
      // with the receiving daemon down, all 300 (18 MB) stay outstanding: the list comes in pages, whole and in order
      d.companion.kill9();
      assertThat(dev.tether.cli.Main.run("--home", d.primary.home().toString(), "send", "userinfo", "--app", APP,
          "--from", lines.toString())).isZero();
      try (DaemonClient s = d.primary.client(APP)) {
        ObjectNode first = s.call("cx.outstanding", Json.object());
        assertThat(first.hasNonNull("next")).isTrue();
        assertThat(first.path("userInfo").size()).isBetween(1, 299);
        JsonNode all = dev.tether.internal.OutstandingPages.all(s).path("userInfo");
        assertThat(all).hasSize(300);
        for (int i = 0; i < 300; i++) {
          assertThat(PropertyList.toPlainJson(PropertyList.fromJson(all.get(i).get("payload"))).path("n").asInt()).isEqualTo(i);
        }
      }
      dev.tether.tests.support.Cli.Result listed = dev.tether.tests.support.Cli.run(d.primary.home(), "outstanding", "--app", APP);
      assertThat(listed.out()).as(listed.toString()).startsWith("300 user info transfer(s), 0 file transfer(s) outstanding");
      d.companion.start();
      // another app on the receiving side tries to acknowledge (delete) everything: nothing of APP is touched
      try (DaemonClient intruder = d.companion.client("com.example.intruder")) {
        await().atMost(Duration.ofSeconds(60)).until(() -> PairedDaemons.connected(d.companion));
        ObjectNode ack = Json.object();
        var seqs = ack.putArray("seqs");
        for (int i = 1; i <= 400; i++) {
          seqs.add(i);
        }
        // 18 MB of user info, each committed with an fsync on both sides: generous for a loaded CI machine
        await().atMost(Duration.ofSeconds(180)).until(() -> {
          try (DaemonClient s = d.primary.client(APP)) {
            return s.call("cx.outstanding", Json.object()).path("userInfo").isEmpty();
          }
        });
        intruder.call("cx.ack", ack);
      }
      Path out = tmp.resolve("big-received.jsonl");
      try (ReceiverProcess r = ReceiverProcess.start(d.companion.home(), APP, out)) {
        await().atMost(Duration.ofSeconds(120)).until(() -> ReceiverProcess.lines(out).size() >= 300);
      }
      List<String> got = ReceiverProcess.lines(out);
      assertThat(got).hasSize(300);
      for (int i = 0; i < 300; i++) {
        JsonNode j = Json.parse(got.get(i));
        assertThat(j.path("payload").path("n").asInt()).isEqualTo(i);
        assertThat(j.path("payload").path("filler").asText()).hasSize(60 * 1024);
      }
    }
  }
}
