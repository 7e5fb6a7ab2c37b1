package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.TransferError;
import dev.tether.UrlSession;
import dev.tether.internal.DaemonClient;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import dev.tether.tests.support.TransferControl;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
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
 * The network state a real daemon reads from NetworkManager: a fake {@code nmcli} (a shell script printing what nmcli
 * prints in terse mode, from a file the test writes) is first on the daemon's {@code PATH}. As in
 * {@link TransferNoNetworkTest}, URLs naming {@code localhost} count as remote hosts here
 * ({@code tetherd.testing.remoteHosts}), so they wait for a network while still reaching the loopback test server.
 */
class TransferNetworkManagerTest {
  static final long MIB = 1024 * 1024;
  @TempDir static Path tmp;
  static Path bin;
  static DaemonProcess daemon;
  static TestHttpServer server;
  Tether tether;
  String session;
  DaemonClient cli;

  @BeforeAll
  static void startDaemon() throws Exception {
    bin = Files.createDirectories(tmp.resolve("bin"));
    Path nmcli = bin.resolve("nmcli");
    Files.writeString(nmcli, """
        #!/bin/sh
        dir=$(dirname "$0")
        echo "$*" >> "$dir/calls"
        case "$*" in
          "-t -f STATE general") ;;
          "-t -f GENERAL.METERED device show") echo "GENERAL.METERED:no"; exit 0 ;;
          *) echo "Error: unexpected arguments $*" >&2; exit 2 ;;
        esac
        if [ -f "$dir/not-running" ]; then echo "Error: NetworkManager is not running." >&2; exit 8; fi
        cat "$dir/state"
        """);
    Files.setPosixFilePermissions(nmcli, PosixFilePermissions.fromString("rwx------"));
    state("connected");
    daemon = DaemonProcess.start(tmp.resolve("home"), Map.of("PATH", bin + ":" + System.getenv("PATH")),
        "-Dtetherd.testing.remoteHosts=localhost");
    server = new TestHttpServer();
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    server.close();
    daemon.close();
  }

  @BeforeEach
  void connect(TestInfo info) throws IOException {
    Files.deleteIfExists(bin.resolve("not-running"));
    tether = Tether.connect("com.example.nm", TetherOptions.defaults().home(daemon.home()).startDaemon(false));
    session = info.getTestMethod().orElseThrow().getName();
    cli = daemon.client("dev.tether.cli");
  }

  @AfterEach
  void disconnect() throws IOException {
    Files.deleteIfExists(bin.resolve("not-running"));
    state("connected");
    network("auto");
    cli.close();
    tether.close();
  }

  private static void state(String s) throws IOException {
    Files.writeString(bin.resolve("state"), s + "\n");
  }

  private static List<String> nmcliCalls() throws IOException {
    Path calls = bin.resolve("calls");
    return Files.exists(calls) ? Files.readAllLines(calls, StandardCharsets.UTF_8) : List.of();
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

  private UrlSession open(RecordingDelegate d) {
    return tether.urlSession(SessionConfiguration.background(session).requestTimeout(Duration.ofSeconds(5))
        .resourceTimeout(Duration.ofSeconds(120)).build(), d);
  }

  private static Optional<TransferError> done(RecordingDelegate d, long id) throws Exception {
    return d.completion(id).get(60, TimeUnit.SECONDS);
  }

  @Test
  void whileNetworkManagerSaysDisconnectedARemoteDownloadWaitsAndItRunsOnceItSaysConnected() throws Exception {
    TestHttpServer.Resource far = server.file("/nm-far.bin", 256 * 1024, 81);
    state("disconnected");
    int callsBefore = nmcliCalls().size();
    ObjectNode cond = network("auto");
    assertThat(cond.path("network").asText()).isEqualTo("none");
    assertThat(cond.path("networkSetting").asText()).isEqualTo("auto");
    assertThat(nmcliCalls().subList(callsBefore, nmcliCalls().size())).contains("-t -f STATE general");

    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d).download(remote("/nm-far.bin")).start();
    await().atMost(Duration.ofSeconds(10)).until(() -> "network".equals(get(t.id()).path("waitingFor").asText()));
    Cli.Result list = Cli.run(daemon.home(), "transfers");
    assertThat(list.out()).contains("waiting for network");
    assertThat(server.requests("/nm-far.bin")).isEmpty();

    state("connected (local only)"); // no default route, but a network: the host may be on it
    // noticed by the daemon's own re-check (every 5 s while a transfer waits), no request from the test
    assertThat(done(d, t.id())).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(far.content().sha256());
    assertThat(server.requests("/nm-far.bin")).hasSize(1);
    assertThat(get(t.id()).path("attempts").asInt()).isZero();
  }

  @Test
  void aRunningDownloadStopsWhenNetworkManagerGoesAsleepAndResumesWithARangeWhenItIsConnectedAgain() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    TestHttpServer.Resource r = server.file("/nm-cut.bin", 6 * MIB, 82).fault(new TestHttpServer.PauseAfter(2 * MIB, gate));
    try {
      RecordingDelegate d = new RecordingDelegate();
      DownloadTransfer t = open(d).download(remote("/nm-cut.bin")).start();
      await().atMost(Duration.ofSeconds(20)).until(() -> r.paused() == 1);
      // as in TransferNoNetworkTest: the 2 MiB sent can still sit unread in the socket buffers on a loaded machine
      await().atMost(Duration.ofSeconds(20)).until(() -> get(t.id()).path("bytesDone").asLong() > 0);

      state("asleep");
      await().atMost(Duration.ofSeconds(20)).until(() -> "network".equals(get(t.id()).path("waitingFor").asText()));
      JsonNode waiting = get(t.id());
      assertThat(waiting.path("attempts").asInt()).isZero();
      assertThat(waiting.path("bytesDone").asLong()).isGreaterThan(0);
      gate.countDown();

      state("connected (site only)");
      assertThat(done(d, t.id())).isEmpty();
      assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
      List<TestHttpServer.Request> requests = server.requests("/nm-cut.bin");
      assertThat(requests).hasSize(2);
      assertThat(requests.get(1).header("Range")).matches("bytes=[1-9][0-9]*-");
    } finally {
      gate.countDown();
    }
  }

  @Test
  void whenNmcliFailsBecauseNetworkManagerIsNotRunningTheKernelsRoutesDecide() throws Exception {
    server.file("/nm-fallback.bin", 256 * 1024, 83);
    state("disconnected"); // what a broken nmcli might still print: not to be believed
    Files.writeString(bin.resolve("not-running"), "");
    int callsBefore = nmcliCalls().size();
    ObjectNode cond = network("auto");
    assertThat(nmcliCalls().subList(callsBefore, nmcliCalls().size())).contains("-t -f STATE general");
    boolean routed = defaultRoute();
    assertThat(cond.path("network").asText()).isEqualTo(routed ? "unmetered" : "none");

    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d).download(remote("/nm-fallback.bin")).start();
    if (routed) {
      assertThat(done(d, t.id())).isEmpty();
      assertThat(server.requests("/nm-fallback.bin")).hasSize(1);
    } else {
      await().atMost(Duration.ofSeconds(10)).until(() -> "network".equals(get(t.id()).path("waitingFor").asText()));
      assertThat(server.requests("/nm-fallback.bin")).isEmpty();
    }
  }

  /** Whether this machine has a default route through an interface other than loopback (what the fallback reads). */
  private static boolean defaultRoute() throws IOException {
    Path v4 = Path.of("/proc/net/route");
    Path v6 = Path.of("/proc/net/ipv6_route");
    if (!Files.isReadable(v4) && !Files.isReadable(v6)) {
      return true;
    }
    if (Files.isReadable(v4)) {
      for (String line : Files.readAllLines(v4)) {
        String[] f = line.trim().split("\\s+");
        if (f.length >= 8 && f[1].equals("00000000") && f[7].equals("00000000") && !f[0].equals("lo")
            && (Integer.parseInt(f[3], 16) & 1) != 0) {
          return true;
        }
      }
    }
    if (Files.isReadable(v6)) {
      for (String line : Files.readAllLines(v6)) {
        String[] f = line.trim().split("\\s+");
        if (f.length >= 10 && f[0].matches("0{32}") && f[1].equals("00") && !f[9].equals("lo")
            && (Long.parseLong(f[8], 16) & 0x201) == 1) {
          return true;
        }
      }
    }
    return false;
  }
}
