package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.UploadTransfer;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An upload from a file survives a SIGKILL of the daemon (it restarts from zero) and reaches the server whole. */
class UploadSurvivalTest {
  static final int MIB = 1024 * 1024;
  @TempDir Path tmp;

  @Test
  void uploadSurvivesADaemonRestart() throws Exception {
    Path file = tmp.resolve("payload.bin");
    byte[] chunk = new byte[MIB];
    new Random(5).nextBytes(chunk);
    try (OutputStream out = Files.newOutputStream(file)) {
      for (int i = 0; i < 20; i++) {
        out.write(chunk);
      }
    }
    String sha = GeneratedContent.sha256(file);
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(tmp.resolve("home"))) {
      TestHttpServer.UploadSink sink = server.upload("/upload").fault(new TestHttpServer.PauseAfter(8 * MIB, gate));
      long id;
      RecordingDelegate first = new RecordingDelegate();
      try (Tether t = Tether.connect("com.example.uploader", TetherOptions.defaults().home(daemon.home()).startDaemon(false))) {
        UploadTransfer u = t.urlSession(SessionConfiguration.background("up").build(), first)
            .upload(file, server.url("/upload")).method("POST").description("payload").start();
        id = u.id();
        assertThat(u.file()).isEqualTo(file);
        await().atMost(Duration.ofSeconds(20)).until(() -> sink.paused() == 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> !first.calls("uploadProgress").isEmpty());
        daemon.kill9();
      }
      gate.countDown();
      Path stale = Files.writeString(tmp.resolve("home/data/transfers/transfer-999999.part"), "left by nobody");
      daemon.start();
      assertThat(stale).doesNotExist(); // part files no transfer refers to are removed on start
      RecordingDelegate second = new RecordingDelegate();
      try (Tether t = Tether.connect("com.example.uploader", TetherOptions.defaults().home(daemon.home()).startDaemon(false))) {
        t.urlSession(SessionConfiguration.background("up").build(), second);
        assertThat(second.completion(id).get(60, TimeUnit.SECONDS)).isEmpty();
      }
      assertThat(sink.received()).containsExactly(sha);
      assertThat(server.requests("/upload")).last().satisfies(r -> {
        assertThat(r.method()).isEqualTo("POST");
        assertThat(r.bodyBytes()).isEqualTo(20L * MIB);
      });
      try (DaemonClient cli = daemon.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("id", id);
        ObjectNode r = cli.call("transfer.get", b);
        assertThat(r.path("state").asText()).isEqualTo("COMPLETED");
        assertThat(r.path("status").asInt()).isEqualTo(201);
        assertThat(r.path("description").asText()).isEqualTo("payload");
      }
    }
  }
}
