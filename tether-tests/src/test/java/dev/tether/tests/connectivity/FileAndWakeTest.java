package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.FileTransfer;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files that survive cut links, and the connectivity wake of an app that is not running. */
class FileAndWakeTest {
  static final String APP = "com.example.photos";

  @TempDir Path tmp;

  @Test
  void twoHundredMebibytesArriveWholeThroughThreeCutsWithoutStartingOver() throws Exception {
    long size = 200L * 1024 * 1024;
    Path source = tmp.resolve("photo-library.bin");
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    Random random = new Random(42);
    byte[] block = new byte[1024 * 1024];
    try (OutputStream out = Files.newOutputStream(source)) {
      for (long written = 0; written < size; written += block.length) {
        random.nextBytes(block);
        sha.update(block);
        out.write(block);
      }
    }
    String expected = HexFormat.of().formatHex(sha.digest());
    try (PairedDaemons d = PairedDaemons.start(tmp);
         Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
      Path out = tmp.resolve("received.jsonl");
      Path files = tmp.resolve("kept");
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", files.toString());
      ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
      s.activate().get(30, TimeUnit.SECONDS);
      FileTransfer t = s.transferFile(source, Map.of("album", "summer", "count", 3));
      assertThat(t.size()).isEqualTo(size);
      assertThat(s.outstandingFileTransfers()).extracting(FileTransfer::id).containsExactly(t.id());
      long base = d.proxy.bytesForwarded();
      for (int cut = 1; cut <= 3; cut++) {
        long threshold = base + cut * size / 4;
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(5)).until(() -> d.proxy.bytesForwarded() >= threshold);
        d.proxy.cut();
      }
      await().atMost(Duration.ofSeconds(120)).until(() -> ReceiverProcess.lines(out).size() == 1);
      JsonNode line = Json.parse(ReceiverProcess.lines(out).get(0));
      assertThat(line.path("kind").asText()).isEqualTo("file");
      assertThat(line.path("metadata")).isEqualTo(Json.parse("{\"album\":\"summer\",\"count\":3}"));
      Path kept = Path.of(line.path("path").asText());
      assertThat(kept.getFileName().toString()).isEqualTo("photo-library.bin");
      MessageDigest got = MessageDigest.getInstance("SHA-256");
      try (var in = Files.newInputStream(kept)) {
        byte[] buf = new byte[1024 * 1024];
        int n;
        while ((n = in.read(buf)) > 0) {
          got.update(buf, 0, n);
        }
      }
      assertThat(HexFormat.of().formatHex(got.digest())).isEqualTo(expected);
      assertThat(d.proxy.connections()).as("the link was re-established after each cut").isGreaterThanOrEqualTo(4);
      assertThat(d.proxy.bytesForwarded() - base).as("resumed, not started over").isLessThan(size + size / 4);
      assertThat(Files.readString(d.companion.home().resolve("logs/tetherd.log"))).contains("resuming file " + t.id());
      await().atMost(Duration.ofSeconds(30)).until(() -> s.outstandingFileTransfers().isEmpty());
      // the receiver removes a delivered file's folder after the app's acknowledgement commits: eventually empty
      Path inbox = d.companion.home().resolve("data/connectivity/in");
      // (the receiving app keeps running until then: it acknowledges a delivery after writing its line)
      await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
        try (var left = Files.list(inbox)) {
          assertThat(left.toList()).as("nothing left behind on the receiver").isEmpty();
        }
      });
      receiver.close();
    }
  }

  @Test
  void anAppThatIsNotRunningIsLaunchedWithAConnectivityTaskAndCompletesItAfterDraining() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path out = tmp.resolve("woken.jsonl");
      String launch = JavaProcesses.javaCommand("dev.tether.cli.Main", "--home", d.companion.home().toString(), "receive",
          "--app", APP, "--out", out.toString()).stream().map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
      try (DaemonClient admin = d.companion.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("app", APP);
        b.put("launch", launch);
        admin.call("app.register", b);
      }
      try (DaemonClient sender = d.primary.client(APP)) {
        for (int i = 0; i < 20; i++) {
          ObjectNode b = Json.object();
          b.set("payload", dev.tether.protocol.PropertyList.encodeTree(Map.of("n", i), 65536, "user info"));
          sender.call("cx.userinfo", b);
        }
      }
      await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() == 20);
      try (DaemonClient admin = d.companion.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("app", APP);
        await().atMost(Duration.ofSeconds(60)).until(() -> {
          JsonNode wakes = admin.call("timeline", b).path("wakes");
          return wakes.size() >= 1 && wakes.get(0).path("outcome").asText("").equals("COMPLETED");
        });
        JsonNode wake = admin.call("timeline", b).path("wakes").get(0);
        assertThat(wake.path("launched").asBoolean()).isTrue();
        assertThat(wake.path("tasks").get(0).path("kind").asText().toLowerCase()).contains("connectivity");
      }
      List<Long> ns = ReceiverProcess.lines(out).stream().map(l -> Json.parse(l).path("payload").path("n").asLong()).toList();
      assertThat(ns).containsExactlyElementsOf(java.util.stream.LongStream.range(0, 20).boxed().toList());
      try (Tether app = Tether.connect(APP, TetherOptions.defaults().home(d.companion.home()).startDaemon(false))) {
        ConnectivitySession s = app.connectivity(new ConnectivityDelegate() {});
        s.activate().get(30, TimeUnit.SECONDS);
        assertThat(s.drained().get(30, TimeUnit.SECONDS).hasContentPending()).isFalse();
      }
    }
  }
}
