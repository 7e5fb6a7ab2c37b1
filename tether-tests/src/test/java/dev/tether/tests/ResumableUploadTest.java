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
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Uploads to a server that speaks the IETF resumable-upload protocol (draft-ietf-httpbis-resumable-upload) resume
 * where the server's offset says, after a dropped connection and after a SIGKILL of the daemon, instead of sending the
 * whole file again; a server that lost the upload gets it again from the start.
 */
class ResumableUploadTest {
  static final int MIB = 1024 * 1024;
  static final String APP = "com.example.uploader";
  @TempDir Path tmp;

  private Path payload(int mib) throws Exception {
    Path file = tmp.resolve("payload.bin");
    byte[] chunk = new byte[MIB];
    Random random = new Random(11);
    try (OutputStream out = Files.newOutputStream(file)) {
      for (int i = 0; i < mib; i++) {
        random.nextBytes(chunk);
        out.write(chunk);
      }
    }
    return file;
  }

  /** Starts the upload, waits until the server paused it mid-body, and kills the daemon with SIGKILL; returns its id. */
  private static long startAndKillMidway(DaemonProcess daemon, TestHttpServer server, TestHttpServer.UploadSink sink, Path file,
      String method) throws Exception {
    try (Tether t = Tether.connect(APP, TetherOptions.defaults().home(daemon.home()).startDaemon(false))) {
      long id = t.urlSession(SessionConfiguration.background("up").build(), new RecordingDelegate())
          .upload(file, server.url("/files")).method(method).start().id();
      await().atMost(Duration.ofSeconds(30)).until(() -> sink.paused() == 1);
      daemon.kill9();
      return id;
    }
  }

  /** Starts the daemon again, opens the session as a relaunched app would, and waits for the upload to complete. */
  private static void restartAndAwaitCompletion(DaemonProcess daemon, long id) throws Exception {
    daemon.start();
    RecordingDelegate relaunched = new RecordingDelegate();
    try (Tether t = Tether.connect(APP, TetherOptions.defaults().home(daemon.home()).startDaemon(false))) {
      t.urlSession(SessionConfiguration.background("up").build(), relaunched);
      assertThat(relaunched.completion(id).get(60, TimeUnit.SECONDS)).isEmpty();
    }
  }

  @Test
  void aDroppedConnectionResumesAtTheServersOffset() throws Exception {
    Path file = payload(20);
    String sha = GeneratedContent.sha256(file);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(tmp.resolve("home"))) {
      TestHttpServer.UploadSink sink = server.resumableUpload("/files").fault(new TestHttpServer.ResetAfter(7 * MIB));
      RecordingDelegate delegate = new RecordingDelegate();
      try (Tether t = Tether.connect(APP, TetherOptions.defaults().home(daemon.home()).startDaemon(false))) {
        UploadTransfer u = t.urlSession(SessionConfiguration.background("up").build(), delegate)
            .upload(file, server.url("/files")).method("POST").start();
        assertThat(delegate.completion(u.id()).get(60, TimeUnit.SECONDS)).isEmpty();
        assertThat(sink.received()).containsExactly(sha);
        // every byte crossed once: 7 MiB before the reset (kept by the server), the other 13 MiB after it
        assertThat(sink.bytesRead()).isEqualTo(20L * MIB);
        List<TestHttpServer.Request> all = server.requests();
        assertThat(all).extracting(TestHttpServer.Request::method).containsExactly("OPTIONS", "POST", "PATCH", "HEAD", "PATCH");
        TestHttpServer.Request create = all.get(1);
        assertThat(create.header("Upload-Complete")).isEqualTo("?0");
        assertThat(create.header("Upload-Length")).isEqualTo(Long.toString(20L * MIB));
        assertThat(create.bodyBytes()).isZero();
        assertThat(all.get(2).header("Upload-Offset")).isEqualTo("0");
        assertThat(all.get(2).complete()).isFalse();
        TestHttpServer.Request resumed = all.get(4);
        assertThat(resumed.path()).isEqualTo(all.get(2).path()).startsWith("/uploads/");
        assertThat(resumed.header("Upload-Offset")).isEqualTo(Long.toString(7L * MIB));
        assertThat(resumed.header("Content-Type")).isEqualTo("application/partial-upload");
        assertThat(resumed.bodyBytes()).isEqualTo(13L * MIB);
        assertThat(all).allSatisfy(r -> assertThat(r.header("Upload-Draft-Interop-Version")).isEqualTo("8"));
        try (DaemonClient cli = daemon.client("dev.tether.cli")) {
          ObjectNode b = Json.object();
          b.put("id", u.id());
          ObjectNode r = cli.call("transfer.get", b);
          assertThat(r.path("state").asText()).isEqualTo("COMPLETED");
          assertThat(r.path("status").asInt()).isEqualTo(201);
          assertThat(r.path("bytesDone").asLong()).isEqualTo(20L * MIB);
        }
      }
    }
  }

  @Test
  void anUploadResumesAfterTheDaemonIsKilled() throws Exception {
    Path file = payload(24);
    String sha = GeneratedContent.sha256(file);
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(tmp.resolve("home"))) {
      TestHttpServer.UploadSink sink = server.resumableUpload("/files").fault(new TestHttpServer.PauseAfter(9 * MIB, gate));
      long id = startAndKillMidway(daemon, server, sink, file, "PUT");
      gate.countDown();
      restartAndAwaitCompletion(daemon, id);
      assertThat(sink.received()).containsExactly(sha);
      // the restarted daemon asked where the server stood and sent only the rest: nothing crossed twice
      assertThat(sink.bytesRead()).isEqualTo(24L * MIB);
      List<TestHttpServer.Request> patches = server.requests().stream().filter(r -> r.method().equals("PATCH")).toList();
      assertThat(patches).hasSize(2);
      long resumedAt = Long.parseLong(patches.get(1).header("Upload-Offset"));
      assertThat(resumedAt).isGreaterThanOrEqualTo(9L * MIB).isLessThan(24L * MIB);
      assertThat(patches.get(1).bodyBytes()).isEqualTo(24L * MIB - resumedAt);
      assertThat(server.requests()).extracting(TestHttpServer.Request::method).filteredOn("PUT"::equals).hasSize(1);
    }
  }

  @Test
  void aServerThatLostTheUploadGetsItAgainFromTheStart() throws Exception {
    Path file = payload(12);
    String sha = GeneratedContent.sha256(file);
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(tmp.resolve("home"))) {
      TestHttpServer.UploadSink sink = server.resumableUpload("/files").fault(new TestHttpServer.PauseAfter(5 * MIB, gate));
      long id = startAndKillMidway(daemon, server, sink, file, "POST");
      gate.countDown();
      await().atMost(Duration.ofSeconds(10)).until(() -> server.requests().stream().anyMatch(r -> r.method().equals("PATCH")));
      sink.forgetUploadResources();
      restartAndAwaitCompletion(daemon, id);
      // the killed daemon's socket may still have delivered the rest of its first body from the kernel's buffers (up
      // to ~10 MiB on loopback), so that first upload can have completed on the server too; the one that counts is
      // the new upload from the start
      assertThat(sink.received()).isNotEmpty().hasSizeLessThanOrEqualTo(2).allMatch(sha::equals);
      List<TestHttpServer.Request> all = server.requests();
      // HEAD found nothing (404), so a new upload resource was created and the whole file sent to it
      assertThat(all).extracting(TestHttpServer.Request::method).containsSubsequence("HEAD", "OPTIONS", "POST", "PATCH");
      assertThat(all.get(all.size() - 1).header("Upload-Offset")).isEqualTo("0");
      assertThat(all.get(all.size() - 1).bodyBytes()).isEqualTo(12L * MIB);
    }
  }

  @Test
  void cancellingTellsTheServerToDropTheUpload() throws Exception {
    Path file = payload(8);
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(tmp.resolve("home"))) {
      TestHttpServer.UploadSink sink = server.resumableUpload("/files").fault(new TestHttpServer.PauseAfter(3 * MIB, gate));
      RecordingDelegate delegate = new RecordingDelegate();
      try (Tether t = Tether.connect(APP, TetherOptions.defaults().home(daemon.home()).startDaemon(false))) {
        UploadTransfer u = t.urlSession(SessionConfiguration.background("up").build(), delegate)
            .upload(file, server.url("/files")).method("POST").start();
        await().atMost(Duration.ofSeconds(30)).until(() -> sink.paused() == 1);
        u.cancel();
        assertThat(delegate.completion(u.id()).get(30, TimeUnit.SECONDS)).hasValueSatisfying(
            e -> assertThat(e.code()).isEqualTo(dev.tether.ErrorCode.CANCELLED));
        gate.countDown();
        await().atMost(Duration.ofSeconds(20)).until(() -> server.requests().stream().anyMatch(r -> r.method().equals("PATCH")));
        String resource = server.requests().stream().filter(r -> r.method().equals("PATCH")).findFirst().orElseThrow().path();
        await().atMost(Duration.ofSeconds(20)).until(() -> server.requests().stream()
            .anyMatch(r -> r.method().equals("DELETE") && r.path().equals(resource)));
        assertThat(sink.received()).isEmpty();
      }
    }
  }
}
