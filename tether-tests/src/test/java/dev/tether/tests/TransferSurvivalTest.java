package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.UrlSessionDelegate;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.TestHttpServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Transfers outlive a SIGKILLed app and a SIGKILLed daemon (issue 3's acceptance tests). */
class TransferSurvivalTest {
  static final long MIB = 1024 * 1024;
  static final String APP = "com.example.survivor";

  @TempDir Path tmp;

  @Test
  void downloadOutlivesKilledAppAndEventsReachTheNextProcessExactlyOnce() throws Exception {
    Path home = tmp.resolve("home");
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource big = server.file("/big.bin", 100 * MIB, 7).fault(new TestHttpServer.PauseAfter(30 * MIB, gate));
      Process app = start(home, "bg", "start", server.url("/big.bin").toString());
      BufferedReader out = reader(app);
      JsonNode started = Json.parse(out.readLine());
      assertThat(started.path("event").asText()).isEqualTo("started");
      long id = started.path("id").asLong();
      await().atMost(Duration.ofSeconds(30)).until(() -> big.paused() == 1);
      app.destroyForcibly();
      assertThat(app.waitFor(30, TimeUnit.SECONDS)).isTrue();
      gate.countDown();

      try (DaemonClient cli = daemon.client("dev.tether.cli")) {
        await().atMost(Duration.ofSeconds(60)).until(() -> state(cli, id).equals("COMPLETED"));
        assertThat(state(cli, id)).isEqualTo("COMPLETED");
      }
      List<JsonNode> got = runToEnd(start(home, "bg", "attach"));
      assertThat(got).extracting(n -> n.path("event").asText())
          .containsExactly("downloadFinished", "completed", "eventsFinished", "delivered");
      assertThat(got.get(0).path("id").asLong()).isEqualTo(id);
      assertThat(got.get(0).path("description").asText()).isEqualTo("big file");
      assertThat(got.get(0).path("size").asLong()).isEqualTo(100 * MIB);
      assertThat(got.get(0).path("sha256").asText()).isEqualTo(big.content().sha256());
      assertThat(got.get(1).has("error")).isFalse();

      // a third process gets nothing again: every event was acknowledged, the delivered file removed
      assertThat(runToEnd(start(home, "bg", "attach"))).extracting(n -> n.path("event").asText()).containsExactly("delivered");
      try (var files = Files.list(home.resolve("data/transfers"))) {
        assertThat(files.toList()).isEmpty();
      }
    }
  }

  @Test
  void killedDaemonResumesWithARangedRequest() throws Exception {
    Path home = tmp.resolve("home");
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource big = server.file("/big.bin", 100 * MIB, 11).fault(new TestHttpServer.PauseAfter(50 * MIB, gate));
      Path dest = tmp.resolve("out.bin");
      long id = startDownload(home, server, dest);
      Path part = home.resolve("data/transfers/transfer-" + id + ".part");
      await().atMost(Duration.ofSeconds(30)).until(() -> big.paused() == 1 && Files.exists(part) && Files.size(part) == 50 * MIB);
      daemon.kill9();
      gate.countDown();
      daemon.start();

      await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(dest));
      assertThat(GeneratedContent.sha256(dest)).isEqualTo(big.content().sha256());
      List<TestHttpServer.Request> reqs = server.requests("/big.bin");
      assertThat(reqs).hasSize(2);
      assertThat(reqs.get(0).header("Range")).isNull();
      assertThat(reqs.get(1).header("Range")).isEqualTo("bytes=" + 50 * MIB + "-");
      assertThat(reqs.get(1).header("If-Range")).isEqualTo(big.etag());
      // the rest, not a second full transfer (a few socket buffers written to the killed daemon's socket count too)
      assertThat(big.bytesServed()).isBetween(100 * MIB, 104 * MIB);
      assertThat(Files.exists(part)).isFalse();
    }
  }

  @Test
  void killedDaemonRestartsFromZeroWhenTheValidatorChanged() throws Exception {
    Path home = tmp.resolve("home");
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource big = server.file("/big.bin", 100 * MIB, 13).fault(new TestHttpServer.PauseAfter(50 * MIB, gate));
      Path dest = tmp.resolve("out.bin");
      long id = startDownload(home, server, dest);
      Path part = home.resolve("data/transfers/transfer-" + id + ".part");
      await().atMost(Duration.ofSeconds(30)).until(() -> big.paused() == 1 && Files.exists(part) && Files.size(part) == 50 * MIB);
      daemon.kill9();
      gate.countDown();
      String oldEtag = big.etag();
      big.replace(new GeneratedContent(14, 100 * MIB));
      daemon.start();

      await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(dest));
      assertThat(GeneratedContent.sha256(dest)).isEqualTo(new GeneratedContent(14, 100 * MIB).sha256());
      List<TestHttpServer.Request> reqs = server.requests("/big.bin");
      assertThat(reqs).hasSize(2);
      assertThat(reqs.get(1).header("If-Range")).isEqualTo(oldEtag);
      assertThat(big.bytesServed()).isBetween(150 * MIB, 154 * MIB);
    }
  }

  @Test
  void killedDaemonWithTheWholeBodyOnDiskCompletesWithoutFetchingItAgain() throws Exception {
    Path home = tmp.resolve("home");
    CountDownLatch gate = new CountDownLatch(1);
    long size = 8 * MIB;
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource big = server.file("/big.bin", size, 17).fault(new TestHttpServer.PauseAfter(size - 1, gate));
      Path dest = tmp.resolve("out.bin");
      long id = startDownload(home, server, dest);
      Path part = home.resolve("data/transfers/transfer-" + id + ".part");
      await().atMost(Duration.ofSeconds(30)).until(() -> big.paused() == 1 && Files.exists(part) && Files.size(part) == size - 1);
      daemon.kill9();
      gate.countDown();
      // the daemon died in the instant after its last write and before it recorded the completion: the whole body is
      // in the part file (the page cache outlives a killed process), the transfer still RUNNING in the store
      Path whole = tmp.resolve("whole.bin");
      big.content().writeTo(whole);
      try (var ch = java.nio.channels.FileChannel.open(part, java.nio.file.StandardOpenOption.APPEND)) {
        ch.write(java.nio.ByteBuffer.wrap(new byte[] {Files.readAllBytes(whole)[(int) size - 1]}));
      }
      daemon.start();

      await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(dest));
      assertThat(GeneratedContent.sha256(dest)).isEqualTo(big.content().sha256());
      List<TestHttpServer.Request> reqs = server.requests("/big.bin");
      assertThat(reqs).hasSize(2);
      // asked for the rest, heard there is none (416 with the length it already has), and kept its copy
      assertThat(reqs.get(1).header("Range")).isEqualTo("bytes=" + size + "-");
      assertThat(big.bytesServed()).as("the paused response may still write its last byte to the dead socket").isBetween(size - 1, size);
      try (DaemonClient cli = daemon.client("dev.tether.cli")) {
        assertThat(state(cli, id)).isEqualTo("COMPLETED");
      }
    }
  }

  private static long startDownload(Path home, TestHttpServer server, Path dest) {
    try (Tether t = Tether.connect(APP, TetherOptions.defaults().home(home).startDaemon(false))) {
      DownloadTransfer d = t.urlSession(SessionConfiguration.background("resume").build(), new UrlSessionDelegate() {})
          .download(server.url("/big.bin")).destination(dest).start();
      return d.id();
    }
  }

  static String state(DaemonClient cli, long id) {
    ObjectNode b = Json.object();
    b.put("id", id);
    return cli.call("transfer.get", b).path("state").asText();
  }

  private Process start(Path home, String session, String mode, String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of(home.toString(), APP, session, mode));
    args.addAll(List.of(more));
    ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.tests.apps.TransferApp", args.toArray(String[]::new)));
    pb.redirectError(ProcessBuilder.Redirect.appendTo(tmp.resolve("app.err").toFile()));
    return pb.start();
  }

  private static BufferedReader reader(Process p) {
    return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
  }

  private static List<JsonNode> runToEnd(Process p) throws Exception {
    List<JsonNode> lines = new ArrayList<>();
    try (BufferedReader r = reader(p)) {
      String line;
      while ((line = r.readLine()) != null) {
        lines.add(Json.parse(line));
      }
    }
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isZero();
    return lines;
  }
}
