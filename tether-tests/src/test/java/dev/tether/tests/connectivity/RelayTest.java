package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.MqttBroker;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real tetherd processes paired directly; then the direct path is blocked and both relay through a real MQTT
 * broker (behind a recording proxy). User info, the application context and a file reach the receiving app through
 * the relay, the broker connection is cut in the middle and the link resumes, the broker never sees a plaintext byte
 * of the payloads, and once the direct path is back the link returns to it.
 */
class RelayTest {
  static final String APP = "com.example.relayed";
  static final String MARKER = "PLAINTEXT-MARKER-7f3a";
  static final int N = 500;

  @TempDir Path tmp;

  static JsonNode peer(DaemonProcess d) {
    try (DaemonClient c = d.client("dev.tether.cli")) {
      JsonNode peers = c.call("cx.peers", Json.object()).path("peers");
      return peers.size() == 1 ? peers.get(0) : Json.object();
    }
  }

  static boolean linkedVia(DaemonProcess d, String via) {
    JsonNode p = peer(d);
    return p.path("connected").asBoolean() && via.equals(p.path("via").asText());
  }

  static JsonNode relayStatus(DaemonProcess d) {
    try (DaemonClient c = d.client("dev.tether.cli")) {
      return c.call("cx.relay.status", Json.object());
    }
  }

  static String cli(DaemonProcess d, String... args) {
    List<String> all = new ArrayList<>(List.of("--home", d.home().toString()));
    all.addAll(List.of(args));
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream old = System.out;
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      assertThat(dev.tether.cli.Main.run(all.toArray(String[]::new))).as("tether %s", all).isZero();
    } finally {
      System.setOut(old);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  @Test
  void userInfoContextAndAFileGoThroughTheBrokerEncryptedSurviveABrokerCutAndTheLinkReturnsToDirect() throws Exception {
    Path source = tmp.resolve("relayed.bin");
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    Random random = new Random(11);
    try (OutputStream out = Files.newOutputStream(source)) {
      byte[] block = new byte[256 * 1024];
      for (int i = 0; i < 16; i++) {
        random.nextBytes(block);
        // a plaintext marker in every block: it must never show up at the broker
        byte[] m = (MARKER + "-file-" + i).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(m, 0, block, 1000, m.length);
        sha.update(block);
        out.write(block);
      }
    }
    String expected = HexFormat.of().formatHex(sha.digest());

    // a relayed link tries the direct path every 3 s here (30 s by default), so that its return is seen quickly
    try (PairedDaemons d = PairedDaemons.start(tmp, "-Dtether.relay.directProbeMillis=3000"); MqttBroker broker = new MqttBroker(tmp.resolve("broker"))) {
      assertThat(linkedVia(d.companion, "direct")).isTrue();
      assertThat(cli(d.primary, "relay", "status")).contains("no relay");
      broker.proxy.record();
      for (DaemonProcess p : List.of(d.primary, d.companion)) {
        JsonNode set = Json.parse(cli(p, "relay", "set", broker.uri(), "--json"));
        assertThat(set.path("broker").asText()).isEqualTo(broker.uri());
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.primary).path("connected").asBoolean()
          && relayStatus(d.companion).path("connected").asBoolean());
      // the direct path goes away: the companion's dialer falls back to the relay
      d.proxy.block(true);
      d.proxy.cut();
      await().atMost(Duration.ofSeconds(60)).until(() -> linkedVia(d.companion, "relay") && linkedVia(d.primary, "relay"));
      assertThat(Json.parse(cli(d.companion, "peers", "--json")).path("peers").get(0).path("via").asText()).isEqualTo("relay");

      Path out = tmp.resolve("received.jsonl");
      Path files = tmp.resolve("kept");
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", files.toString());
      try (Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
        s.activate().get(30, TimeUnit.SECONDS);
        s.updateApplicationContext(Map.of("state", MARKER + "-context"));
        for (int i = 0; i < N; i++) {
          s.transferUserInfo(Map.of("n", (long) i, "text", MARKER + "-userinfo-" + i));
          if (i == N / 2) {
            // the broker connection drops in the middle: streams die, the link redials through the relay and resumes
            await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() > 50);
            broker.proxy.cut();
          }
        }
        s.transferFile(source, Map.of("note", MARKER + "-metadata"));
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(200))
            .until(() -> ReceiverProcess.lines(out).size() >= N + 2);
        await().atMost(Duration.ofSeconds(60)).until(() -> s.outstandingUserInfoTransfers().isEmpty()
            && s.outstandingFileTransfers().isEmpty());
      }
      receiver.close();

      List<Long> userInfo = new ArrayList<>();
      JsonNode context = null;
      JsonNode file = null;
      for (String line : ReceiverProcess.lines(out)) {
        JsonNode j = Json.parse(line);
        switch (j.path("kind").asText()) {
          case "userInfo" -> userInfo.add(j.path("payload").path("n").asLong());
          case "applicationContext" -> context = j;
          case "file" -> file = j;
          default -> throw new AssertionError("unexpected delivery " + line);
        }
      }
      List<Long> inOrder = new ArrayList<>();
      for (long i = 0; i < N; i++) {
        inOrder.add(i);
      }
      assertThat(userInfo).as("every user info exactly once, in order").isEqualTo(inOrder);
      assertThat(context).isNotNull();
      assertThat(context.path("payload").path("state").asText()).isEqualTo(MARKER + "-context");
      assertThat(file).isNotNull();
      assertThat(file.path("metadata").path("note").asText()).isEqualTo(MARKER + "-metadata");
      MessageDigest got = MessageDigest.getInstance("SHA-256");
      got.update(Files.readAllBytes(Path.of(file.path("path").asText())));
      assertThat(HexFormat.of().formatHex(got.digest())).isEqualTo(expected);

      byte[] seen = broker.proxy.recorded();
      assertThat(seen.length).as("the payloads went through the broker").isGreaterThan(4 * 1024 * 1024);
      String asText = new String(seen, StandardCharsets.ISO_8859_1);
      assertThat(asText).as("what the broker saw").doesNotContain(MARKER).contains("tether/v1/");
      assertThat(broker.proxy.connections()).as("the daemons reconnected to the broker after the cut").isGreaterThanOrEqualTo(4);
      assertThat(cli(d.companion, "relay", "status")).contains("relay " + broker.uri()).contains("connected");

      // the direct path is back: the companion's periodic direct probe moves the link there
      d.proxy.block(false);
      await().atMost(Duration.ofSeconds(90)).until(() -> linkedVia(d.companion, "direct") && linkedVia(d.primary, "direct"));
      String log = Files.readString(d.companion.home().resolve("logs/tetherd.log"));
      assertThat(log).contains("switched to the relay").contains("is direct again");

      // clearing the relay is durable
      cli(d.companion, "relay", "clear");
      d.companion.kill9();
      d.companion.start();
      assertThat(relayStatus(d.companion).path("broker").isNull()).isTrue();
      assertThat(relayStatus(d.primary).path("broker").asText()).isEqualTo(broker.uri());
    }
  }
}
