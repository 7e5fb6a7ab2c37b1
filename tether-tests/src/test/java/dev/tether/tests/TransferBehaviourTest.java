package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ChallengeResponse;
import dev.tether.DownloadTransfer;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.TransferError;
import dev.tether.TransferState;
import dev.tether.UrlSession;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/** Retries, timeouts, redirects, challenges, resume data, begin dates and conditions against a real daemon and server. */
class TransferBehaviourTest {
  static final long MIB = 1024 * 1024;
  @TempDir static Path tmp;
  static DaemonProcess daemon;
  static TestHttpServer server;
  Tether tether;
  String session;

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(tmp.resolve("home"));
    server = new TestHttpServer();
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    server.close();
    daemon.close();
  }

  @BeforeEach
  void connect(TestInfo info) {
    tether = Tether.connect("com.example.behaviour", TetherOptions.defaults().home(daemon.home()).startDaemon(false));
    session = info.getTestMethod().orElseThrow().getName();
  }

  @AfterEach
  void disconnect() {
    tether.close();
  }

  private UrlSession open(RecordingDelegate d, SessionConfiguration.Builder b) {
    return tether.urlSession(b.build(), d);
  }

  private SessionConfiguration.Builder config() {
    return SessionConfiguration.background(session).requestTimeout(Duration.ofSeconds(2)).resourceTimeout(Duration.ofSeconds(40));
  }

  private static Optional<TransferError> done(RecordingDelegate d, long id) throws Exception {
    return d.completion(id).get(60, TimeUnit.SECONDS);
  }

  @Test
  void serviceUnavailableIsRetriedAfterRetryAfter() throws Exception {
    TestHttpServer.Resource r = server.file("/503.bin", 3 * MIB, 21)
        .fault(new TestHttpServer.Unavailable(1)).fault(new TestHttpServer.Unavailable(1));
    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d, config()).download(server.url("/503.bin")).start();
    assertThat(done(d, t.id())).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
    List<TestHttpServer.Request> reqs = server.requests("/503.bin");
    assertThat(reqs).hasSize(3);
    assertThat(reqs.get(1).atNanos() - reqs.get(0).atNanos()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(950));
    assertThat(reqs.get(2).atNanos() - reqs.get(1).atNanos()).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(950));
    await().atMost(Duration.ofSeconds(10)).until(() -> d.calls("eventsFinished").size() == 1);
    assertThat(d.calls()).extracting(RecordingDelegate.Call::type).filteredOn(s -> !s.equals("progress"))
        .containsExactly("downloadFinished", "completed", "eventsFinished");
  }

  @Test
  void aServerErrorThatCannotGoAwayEndsTheTransferAtOnceAndOneThatCanIsRetried() throws Exception {
    server.file("/501.bin", MIB, 41).fault(new TestHttpServer.Answer(501, "Not Implemented"));
    TestHttpServer.Resource flaky = server.file("/502.bin", MIB, 42).fault(new TestHttpServer.Answer(502, "Bad Gateway"));
    Path file = tmp.resolve("upload-501.bin");
    Files.write(file, new byte[64 * 1024]);
    server.upload("/up-501").fault(new TestHttpServer.Answer(501, "Not Implemented"));
    RecordingDelegate d = new RecordingDelegate();
    UrlSession s = open(d, config());
    DownloadTransfer notImplemented = s.download(server.url("/501.bin")).start();
    DownloadTransfer badGateway = s.download(server.url("/502.bin")).start();
    long upload = s.upload(file, server.url("/up-501")).start().id();
    Optional<TransferError> e = done(d, notImplemented.id());
    assertThat(e).get().extracting(TransferError::code).isEqualTo(ErrorCode.HTTP_ERROR);
    assertThat(e.get().message()).contains("501");
    assertThat(server.requests("/501.bin")).hasSize(1);
    Optional<TransferError> up = done(d, upload);
    assertThat(up.map(TransferError::message).orElse("")).as("upload answered 501: " + up).contains("501");
    assertThat(server.requests("/up-501")).hasSize(1);
    assertThat(done(d, badGateway.id())).isEmpty();
    assertThat(d.sha256(badGateway.id())).isEqualTo(flaky.content().sha256());
    assertThat(server.requests("/502.bin")).hasSize(2);
  }

  @Test
  void connectionResetMidBodyResumesWithARange() throws Exception {
    TestHttpServer.Resource r = server.file("/reset.bin", 8 * MIB, 22).fault(new TestHttpServer.ResetAfter(3 * MIB));
    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d, config()).download(server.url("/reset.bin")).start();
    assertThat(done(d, t.id())).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
    List<TestHttpServer.Request> reqs = server.requests("/reset.bin");
    assertThat(reqs).hasSize(2);
    assertThat(reqs.get(1).header("Range")).startsWith("bytes=");
    assertThat(reqs.get(1).header("If-Range")).isEqualTo(r.etag());
  }

  @Test
  void stalledServerTimesOutAfterTheRequestTimeoutAndResumes() throws Exception {
    TestHttpServer.Resource r = server.file("/stall.bin", 6 * MIB, 23)
        .fault(new TestHttpServer.StallAfter(2 * MIB, Duration.ofSeconds(30)));
    RecordingDelegate d = new RecordingDelegate();
    long start = System.nanoTime();
    DownloadTransfer t = open(d, config().requestTimeout(Duration.ofSeconds(1))).download(server.url("/stall.bin")).start();
    assertThat(done(d, t.id())).isEmpty();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
    assertThat(server.requests("/stall.bin").get(1).header("Range")).isEqualTo("bytes=" + 2 * MIB + "-");
  }

  @Test
  void resourceTimeoutEndsEndlessRetries() throws Exception {
    TestHttpServer.Resource r = server.file("/down.bin", MIB, 24);
    for (int i = 0; i < 20; i++) {
      r.fault(new TestHttpServer.Unavailable(1));
    }
    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d, config().resourceTimeout(Duration.ofMillis(2500))).download(server.url("/down.bin")).start();
    Optional<TransferError> e = done(d, t.id());
    assertThat(e).get().extracting(TransferError::code).isEqualTo(ErrorCode.RESOURCE_TIMED_OUT);
    assertThat(e.get().message()).contains("503");
    assertThat(d.calls("downloadFinished")).isEmpty();
  }

  @Test
  void redirectsAreFollowed() throws Exception {
    TestHttpServer.Resource r = server.file("/target.bin", MIB, 25);
    server.redirect("/moved.bin", server.url("/target.bin").toString());
    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d, config().header("X-Tether-Test", "extra")).download(server.url("/moved.bin")).start();
    assertThat(done(d, t.id())).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
    assertThat(server.requests("/moved.bin")).singleElement().satisfies(q -> assertThat(q.header("X-Tether-Test")).isEqualTo("extra"));
    assertThat(server.requests("/target.bin")).singleElement().satisfies(q -> assertThat(q.header("X-Tether-Test")).isEqualTo("extra"));
  }

  @Test
  void challengeReachesTheDelegateAndItsCredentialCompletesTheTransfer() throws Exception {
    TestHttpServer.Resource r = server.file("/secret.bin", MIB, 26).requireBasicAuth("user", "secret");
    RecordingDelegate d = new RecordingDelegate().onChallenge((t, c) -> c.previousFailureCount() == 0
        ? ChallengeResponse.useCredential("user", "wrong") : ChallengeResponse.useCredential("user", "secret"));
    DownloadTransfer t = open(d, config()).download(server.url("/secret.bin")).start();
    assertThat(done(d, t.id())).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
    assertThat(d.calls("challenge")).extracting(RecordingDelegate.Call::detail)
        .containsExactly("401 Basic tether-test 0", "401 Basic tether-test 1");
    List<TestHttpServer.Request> reqs = server.requests("/secret.bin");
    assertThat(reqs).hasSize(3);
    assertThat(reqs.get(0).header("Authorization")).isNull();
    assertThat(reqs.get(2).header("Authorization")).isEqualTo(
        "Basic " + java.util.Base64.getEncoder().encodeToString("user:secret".getBytes()));
  }

  @Test
  void challengeCancelledByTheDelegateCompletesCancelled() throws Exception {
    server.file("/locked.bin", MIB, 27).requireBasicAuth("user", "secret");
    RecordingDelegate d = new RecordingDelegate().onChallenge((t, c) -> ChallengeResponse.cancel());
    DownloadTransfer t = open(d, config()).download(server.url("/locked.bin")).start();
    assertThat(done(d, t.id())).get().extracting(TransferError::code).isEqualTo(ErrorCode.CANCELLED);
    assertThat(t.state()).isEqualTo(TransferState.COMPLETED);
  }

  @Test
  void cancelProducingResumeDataLetsANewDownloadContinue() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/resumable.bin", 16 * MIB, 28).fault(new TestHttpServer.PauseAfter(5 * MIB, gate));
    RecordingDelegate d = new RecordingDelegate();
    UrlSession s = open(d, config());
    DownloadTransfer t = s.download(server.url("/resumable.bin")).start();
    await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> s.allTransfers().get(0).bytesDone() == 5 * MIB);
    byte[] data = t.cancelProducingResumeData().get(30, TimeUnit.SECONDS);
    gate.countDown();
    assertThat(data).isNotNull();
    assertThat(done(d, t.id())).get().extracting(TransferError::code).isEqualTo(ErrorCode.CANCELLED);
    DownloadTransfer again = s.downloadWithResumeData(data);
    assertThat(done(d, again.id())).isEmpty();
    assertThat(d.sha256(again.id())).isEqualTo(r.content().sha256());
    assertThat(server.requests("/resumable.bin").get(1).header("Range")).isEqualTo("bytes=" + 5 * MIB + "-");
    assertThat(d.calls("downloadFinished")).hasSize(1);
  }

  @Test
  void suspendAndResume() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/suspend.bin", 8 * MIB, 29).fault(new TestHttpServer.PauseAfter(2 * MIB, gate));
    RecordingDelegate d = new RecordingDelegate();
    UrlSession s = open(d, config());
    DownloadTransfer t = s.download(server.url("/suspend.bin")).start();
    await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
    await().atMost(Duration.ofSeconds(10)).until(() -> !d.calls("progress").isEmpty());
    assertThat(d.calls("progress").get(0).transferId()).isEqualTo(t.id());
    t.suspend();
    assertThat(t.state()).isEqualTo(TransferState.SUSPENDED);
    gate.countDown();
    assertThat(s.allTransfers()).singleElement().extracting(x -> x.state()).isEqualTo(TransferState.SUSPENDED);
    t.resume();
    assertThat(done(d, t.id())).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
  }

  @Test
  void earliestBeginDateIsHonoured() throws Exception {
    server.file("/later.bin", 64 * 1024, 30);
    RecordingDelegate d = new RecordingDelegate();
    Instant notBefore = Instant.now().plusMillis(1500);
    DownloadTransfer t = open(d, config()).download(server.url("/later.bin")).notBefore(notBefore).description("later").start();
    assertThat(t.description()).contains("later");
    assertThat(done(d, t.id())).isEmpty();
    assertThat(Instant.now()).isAfterOrEqualTo(notBefore);
    assertThat(server.requests("/later.bin")).hasSize(1);
  }

  @Test
  void discretionaryTransfersWaitForConditionsTheCliSets() throws Exception {
    server.file("/discretionary.bin", 64 * 1024, 31);
    try (DaemonClient cli = daemon.client("dev.tether.cli")) {
      ObjectNode battery = Json.object();
      battery.put("power", "battery");
      assertThat(cli.call("transfer.conditions", battery).path("discretionaryMayRun").asBoolean()).isFalse();
      RecordingDelegate d = new RecordingDelegate();
      UrlSession s = open(d, config().discretionary(true));
      DownloadTransfer t = s.download(server.url("/discretionary.bin")).start();
      ObjectNode get = Json.object();
      get.put("id", t.id());
      await().atMost(Duration.ofSeconds(10)).until(() -> "conditions".equals(cli.call("transfer.get", get).path("waitingFor").asText()));
      assertThat(server.requests("/discretionary.bin")).isEmpty();
      ObjectNode external = Json.object();
      external.put("power", "external");
      external.put("network", "unmetered");
      cli.call("transfer.conditions", external);
      assertThat(done(d, t.id())).isEmpty();
      ObjectNode auto = Json.object();
      auto.put("power", "auto");
      auto.put("network", "auto");
      cli.call("transfer.conditions", auto);
    }
  }

  @Test
  void garbageFromTheServerIsABadServerResponseAndHarmsNothingElse() throws Exception {
    server.file("/garbage.bin", MIB, 32).fault(new TestHttpServer.Garbage());
    TestHttpServer.Resource good = server.file("/good.bin", MIB, 33);
    RecordingDelegate d = new RecordingDelegate();
    UrlSession s = open(d, config());
    DownloadTransfer bad = s.download(server.url("/garbage.bin")).start();
    DownloadTransfer ok = s.download(server.url("/good.bin")).start();
    assertThat(done(d, bad.id())).get().extracting(TransferError::code).isEqualTo(ErrorCode.BAD_SERVER_RESPONSE);
    assertThat(done(d, ok.id())).isEmpty();
    assertThat(d.sha256(ok.id())).isEqualTo(good.content().sha256());
  }

  @Test
  void eventsFinishedComesOnceAfterEveryTransferOfTheSession() throws Exception {
    server.file("/a.bin", MIB, 34);
    server.file("/b.bin", MIB, 35);
    RecordingDelegate d = new RecordingDelegate();
    UrlSession s = open(d, config());
    DownloadTransfer a = s.download(server.url("/a.bin")).start();
    DownloadTransfer b = s.download(server.url("/b.bin")).start();
    done(d, a.id());
    done(d, b.id());
    await().atMost(Duration.ofSeconds(10)).until(() -> d.calls("eventsFinished").size() == 1);
    assertThat(d.calls("completed")).hasSize(2);
    assertThat(s.allTransfers()).extracting(x -> x.state()).containsOnly(TransferState.COMPLETED);
    assertThat(new GeneratedContent(34, MIB).sha256()).isEqualTo(d.sha256(a.id()));
  }

  @Test
  void forceQuitCancelsEveryTransferOfTheApp() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/forcequit.bin", 4 * MIB, 36).fault(new TestHttpServer.PauseAfter(MIB, gate));
    try (Tether app = Tether.connect("com.example.forcequit", TetherOptions.defaults().home(daemon.home()).startDaemon(false));
         DaemonClient cli = daemon.client("dev.tether.cli")) {
      DownloadTransfer t = app.urlSession(config().build(), new RecordingDelegate()).download(server.url("/forcequit.bin")).start();
      await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
      ObjectNode stop = Json.object();
      stop.put("app", "com.example.forcequit");
      stop.put("force", true);
      cli.call("app.stop", stop);
      ObjectNode get = Json.object();
      get.put("id", t.id());
      await().atMost(Duration.ofSeconds(20)).until(() -> cli.call("transfer.get", get).path("state").asText().equals("COMPLETED"));
      assertThat(cli.call("transfer.get", get).path("error").path("code").asText()).isEqualTo("USER_FORCE_QUIT_APPLICATION");
    } finally {
      gate.countDown();
    }
  }

  @Test
  void invalidateAndCancelCancelsEveryTransferOfTheSession() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/invalidate.bin", 4 * MIB, 37).fault(new TestHttpServer.PauseAfter(MIB, gate));
    try (DaemonClient cli = daemon.client("dev.tether.cli")) {
      RecordingDelegate d = new RecordingDelegate();
      UrlSession s = open(d, config());
      DownloadTransfer running = s.download(server.url("/invalidate.bin")).start();
      DownloadTransfer later = s.download(server.url("/invalidate.bin")).notBefore(Instant.now().plusSeconds(3600)).start();
      await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
      s.invalidateAndCancel();
      for (long id : new long[] {running.id(), later.id()}) {
        ObjectNode get = Json.object();
        get.put("id", id);
        await().atMost(Duration.ofSeconds(20)).until(() -> cli.call("transfer.get", get).path("state").asText().equals("COMPLETED"));
        assertThat(cli.call("transfer.get", get).path("error").path("code").asText()).isEqualTo("CANCELLED");
      }
      assertThat(d.calls("completed")).isEmpty(); // an invalidated session delivers nothing more here
    } finally {
      gate.countDown();
    }
  }
}
