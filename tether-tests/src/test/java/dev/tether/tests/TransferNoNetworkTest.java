package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.DownloadTransfer;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.TransferError;
import dev.tether.UrlSession;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import dev.tether.tests.support.TransferControl;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
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

/**
 * Transfers wait for a network while the device has none ({@code tether conditions --network none}), against a real
 * daemon process and a real HTTP server.
 *
 * <p>The test server listens on loopback only, and loopback transfers need no network. To exercise a "remote" host
 * honestly, the daemon runs with the test-only system property {@code tetherd.testing.remoteHosts=localhost}: URLs
 * naming the host {@code localhost} are treated as needing a network (they still reach the same loopback server when
 * the network is on), while URLs naming {@code 127.0.0.1} stay loopback.
 */
class TransferNoNetworkTest {
  static final long MIB = 1024 * 1024;
  @TempDir static Path tmp;
  static DaemonProcess daemon;
  static TestHttpServer server;
  Tether tether;
  String session;
  DaemonClient cli;

  @BeforeAll
  static void startDaemon() throws Exception {
    daemon = DaemonProcess.start(tmp.resolve("home"), "-Dtetherd.testing.remoteHosts=localhost");
    server = new TestHttpServer();
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    server.close();
    daemon.close();
  }

  @BeforeEach
  void connect(TestInfo info) {
    tether = Tether.connect("com.example.offline", TetherOptions.defaults().home(daemon.home()).startDaemon(false));
    session = info.getTestMethod().orElseThrow().getName();
    cli = daemon.client("dev.tether.cli");
  }

  @AfterEach
  void disconnect() {
    network("auto");
    cli.close();
    tether.close();
  }

  private ObjectNode network(String value) {
    return TransferControl.network(cli, value);
  }

  private JsonNode get(long id) {
    return TransferControl.transfer(cli, id);
  }

  private static URI remote(String path) {
    return URI.create("http://localhost:" + server.port() + path);
  }

  private UrlSession open(RecordingDelegate d, Duration resourceTimeout) {
    return tether.urlSession(SessionConfiguration.background(session).requestTimeout(Duration.ofSeconds(5))
        .resourceTimeout(resourceTimeout).build(), d);
  }

  private static Optional<TransferError> done(RecordingDelegate d, long id) throws Exception {
    return d.completion(id).get(60, TimeUnit.SECONDS);
  }

  @Test
  void withoutANetworkARemoteDownloadMakesNoRequestAndWaitsWhileALoopbackOneRunsThenItRunsWhenTheNetworkIsBack() throws Exception {
    TestHttpServer.Resource far = server.file("/far.bin", 256 * 1024, 71);
    TestHttpServer.Resource near = server.file("/near.bin", 256 * 1024, 72);
    Cli.Result none = Cli.run(daemon.home(), "conditions", "--network", "none", "--json");
    assertThat(none.exitCode()).as(none.toString()).isZero();
    assertThat(Json.parse(none.out()).path("network").asText()).isEqualTo("none");
    assertThat(Json.parse(none.out()).path("discretionaryMayRun").asBoolean()).isFalse();

    RecordingDelegate d = new RecordingDelegate();
    UrlSession s = open(d, Duration.ofSeconds(60));
    DownloadTransfer farT = s.download(remote("/far.bin")).start();
    DownloadTransfer nearT = s.download(server.url("/near.bin")).start();
    assertThat(done(d, nearT.id())).isEmpty(); // loopback needs no network
    assertThat(d.sha256(nearT.id())).isEqualTo(near.content().sha256());
    await().atMost(Duration.ofSeconds(10)).until(() -> "network".equals(get(farT.id()).path("waitingFor").asText()));
    assertThat(get(farT.id()).path("state").asText()).isEqualTo("RUNNING");
    assertThat(get(farT.id()).path("attempts").asInt()).isZero();

    Cli.Result list = Cli.run(daemon.home(), "transfers");
    assertThat(list.out()).contains(remote("/far.bin").toString()).contains("waiting for network");
    Cli.Result cond = Cli.run(daemon.home(), "conditions");
    assertThat(cond.out()).contains("network: none (overridden)").contains("1 waiting for a network");
    assertThat(server.requests("/far.bin")).isEmpty();

    ObjectNode back = network("unmetered");
    assertThat(back.path("network").asText()).isEqualTo("unmetered");
    assertThat(done(d, farT.id())).isEmpty();
    assertThat(d.sha256(farT.id())).isEqualTo(far.content().sha256());
    assertThat(server.requests("/far.bin")).hasSize(1);
  }

  @Test
  void aDownloadCutByTheNetworkGoingAwayResumesWithARangeAndNoFailedAttempt() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/cut.bin", 6 * MIB, 73).fault(new TestHttpServer.PauseAfter(2 * MIB, gate));
    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d, Duration.ofSeconds(60)).download(remote("/cut.bin")).start();
    await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
    // the server has sent 2 MiB; on a loaded machine they can still sit in the socket buffers, unread by tetherd, and
    // then there is nothing to resume from yet: wait until tetherd has taken some of them
    await().atMost(Duration.ofSeconds(20)).until(() -> get(t.id()).path("bytesDone").asLong() > 0);

    network("none");
    // the attempt stops at once (the server still holds its response): it waits for a network, not for a back-off
    await().atMost(Duration.ofSeconds(10)).until(() -> "network".equals(get(t.id()).path("waitingFor").asText()));
    JsonNode waiting = get(t.id());
    assertThat(waiting.path("attempts").asInt()).isZero();
    assertThat(waiting.path("bytesDone").asLong()).isGreaterThan(0);
    gate.countDown();

    network("unmetered");
    assertThat(done(d, t.id())).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
    List<TestHttpServer.Request> requests = server.requests("/cut.bin");
    assertThat(requests).hasSize(2);
    assertThat(requests.get(0).header("Range")).isNull();
    assertThat(requests.get(1).header("Range")).matches("bytes=[1-9][0-9]*-");
    assertThat(get(t.id()).path("attempts").asInt()).isZero();
  }

  @Test
  void aTransferThatWaitsForANetworkLongerThanItsResourceTimeoutFails() throws Exception {
    server.file("/late.bin", 64 * 1024, 74);
    network("none");
    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d, Duration.ofSeconds(2)).download(remote("/late.bin")).start();
    assertThat(done(d, t.id())).get().satisfies(e -> {
      assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_TIMED_OUT);
      assertThat(e.message()).contains("no network");
    });
    assertThat(server.requests("/late.bin")).isEmpty();
  }

  /**
   * The race of an attempt failing on its own (the connection reset, no bytes) just before the device is seen offline:
   * here deterministically in the order that counted it, the failure recorded first (a failed attempt and a back-off),
   * then the network forced away. Once offline is seen the failure is taken back: no failed attempt, no back-off, the
   * transfer waits for a network and resumes with a range when it is back.
   */
  @Test
  void aConnectionFailureJustBeforeTheDeviceIsSeenOfflineIsNoFailedAttempt() throws Exception {
    CountDownLatch reset = new CountDownLatch(1);
    CountDownLatch late = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/race.bin", 6 * MIB, 75)
        .fault(new TestHttpServer.ResetAfter(2 * MIB)) // some bytes kept: the next attempt asks for a range
        .fault(new TestHttpServer.PauseThenReset(0, reset))
        .fault(new TestHttpServer.PauseAfter(0, late)); // an attempt after the back-off (a slow test) holds here
    try {
      RecordingDelegate d = new RecordingDelegate();
      DownloadTransfer t = open(d, Duration.ofSeconds(120)).download(remote("/race.bin")).start();
      await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
      reset.countDown();
      await().atMost(Duration.ofSeconds(10)).until(() -> get(t.id()).path("attempts").asInt() == 1);

      network("none");
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        JsonNode now = get(t.id());
        assertThat(now.path("attempts").asInt()).isZero();
        assertThat(now.path("waitingFor").asText()).isEqualTo("network");
      });
      int before = server.requests("/race.bin").size();
      assertThat(before).isBetween(2, 3);
      late.countDown();

      network("unmetered");
      assertThat(done(d, t.id())).isEmpty();
      assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
      List<TestHttpServer.Request> requests = server.requests("/race.bin");
      assertThat(requests).hasSize(before + 1);
      // the reset lost what was in flight: every later attempt resumes from the bytes the first one kept
      assertThat(requests.get(1).header("Range")).matches("bytes=[1-9][0-9]*-");
      assertThat(requests.get(requests.size() - 1).header("Range")).isEqualTo(requests.get(1).header("Range"));
      assertThat(get(t.id()).path("attempts").asInt()).isZero();
    } finally {
      reset.countDown();
      late.countDown();
    }
  }

  /** The same race left to run: the reset and the network going away at the same moment, in whichever order. */
  @Test
  void aResetAtTheMomentTheNetworkGoesAwayIsNoFailedAttemptInEitherOrder() throws Exception {
    CountDownLatch reset = new CountDownLatch(1);
    CountDownLatch late = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/moment.bin", 6 * MIB, 76)
        .fault(new TestHttpServer.ResetAfter(2 * MIB))
        .fault(new TestHttpServer.PauseThenReset(0, reset))
        .fault(new TestHttpServer.PauseAfter(0, late));
    try {
      RecordingDelegate d = new RecordingDelegate();
      DownloadTransfer t = open(d, Duration.ofSeconds(120)).download(remote("/moment.bin")).start();
      await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
      reset.countDown();
      network("none");
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        JsonNode now = get(t.id());
        assertThat(now.path("attempts").asInt()).isZero();
        assertThat(now.path("waitingFor").asText()).isEqualTo("network");
      });
      late.countDown();
      network("unmetered");
      assertThat(done(d, t.id())).isEmpty();
      assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
      List<TestHttpServer.Request> requests = server.requests("/moment.bin");
      // the reset lost what was in flight: every later attempt resumes from the bytes the first one kept
      assertThat(requests.get(1).header("Range")).matches("bytes=[1-9][0-9]*-");
      assertThat(requests.get(requests.size() - 1).header("Range")).isEqualTo(requests.get(1).header("Range"));
    } finally {
      reset.countDown();
      late.countDown();
    }
  }
}
