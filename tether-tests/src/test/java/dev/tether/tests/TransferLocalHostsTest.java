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
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import dev.tether.tests.support.TransferControl;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which hosts need no network, against a real daemon with the network forced to none and real HTTP servers on other
 * loopback addresses: loopback literals, {@code *.localhost} names (RFC 6761, resolved by the daemon itself), and names
 * that resolve only to loopback. The daemon resolves names through a hosts file of the test's
 * ({@code -Djdk.net.hosts.file}, the JDK's own resolver), so a name can be made loopback-only or not.
 */
class TransferLocalHostsTest {
  @TempDir static Path tmp;
  static DaemonProcess daemon;
  static TestHttpServer v4;
  static TestHttpServer second;
  static TestHttpServer v6;
  Tether tether;
  String session;
  DaemonClient cli;

  @BeforeAll
  static void startDaemon() throws Exception {
    Path hosts = tmp.resolve("hosts");
    Files.writeString(hosts, String.join("\n",
        "127.0.0.1 localhost " + InetAddress.getLocalHost().getHostName(),
        "::1 localhost",
        "127.0.0.2 box.tether-test",
        "127.0.0.2 split.tether-test",
        "192.0.2.7 split.tether-test", // also an address elsewhere (TEST-NET-1): needs a network
        "192.0.2.8 far.tether-test",
        ""));
    daemon = DaemonProcess.start(tmp.resolve("home"), "-Djdk.net.hosts.file=" + hosts);
    v4 = new TestHttpServer();
    second = new TestHttpServer(InetAddress.getByName("127.0.0.2"));
    v6 = new TestHttpServer(InetAddress.getByName("::1"));
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    v4.close();
    second.close();
    v6.close();
    daemon.close();
  }

  @BeforeEach
  void connect(TestInfo info) {
    tether = Tether.connect("com.example.local", TetherOptions.defaults().home(daemon.home()).startDaemon(false));
    session = info.getTestMethod().orElseThrow().getName();
    cli = daemon.client("dev.tether.cli");
    network("none");
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

  private UrlSession open(RecordingDelegate d) {
    // plain HTTP to a name is allowed explicitly: that rule goes by the URL's text (a name may change what it resolves to)
    return tether.urlSession(SessionConfiguration.background(session).allowsPlainHttp(true)
        .requestTimeout(Duration.ofSeconds(5)).resourceTimeout(Duration.ofSeconds(60)).build(), d);
  }

  private static Optional<TransferError> done(RecordingDelegate d, long id) throws Exception {
    return d.completion(id).get(60, TimeUnit.SECONDS);
  }

  private void downloads(TestHttpServer server, String url, long seed) throws Exception {
    String path = URI.create(url).getPath();
    TestHttpServer.Resource r = server.file(path, 128 * 1024, seed);
    RecordingDelegate d = new RecordingDelegate();
    DownloadTransfer t = open(d).download(URI.create(url)).start();
    assertThat(done(d, t.id())).as(url).isEmpty();
    assertThat(d.sha256(t.id())).isEqualTo(r.content().sha256());
    assertThat(server.requests(path)).hasSize(1);
    assertThat(get(t.id()).path("attempts").asInt()).isZero();
  }

  @Test
  void loopbackLiteralsOtherThan127001NeedNoNetwork() throws Exception {
    downloads(second, "http://127.0.0.2:" + second.port() + "/lit4.bin", 91);
    downloads(v6, "http://[::1]:" + v6.port() + "/lit6.bin", 92);
  }

  @Test
  void aNameUnderLocalhostNeedsNoNetworkAndReachesLoopbackWithoutDns() throws Exception {
    downloads(v4, "http://app.localhost:" + v4.port() + "/sub.bin", 93);
    downloads(v4, "http://A.B.LOCALHOST:" + v4.port() + "/deep.bin", 94);
  }

  @Test
  void aNameThatResolvesOnlyToLoopbackNeedsNoNetwork() throws Exception {
    downloads(second, "http://box.tether-test:" + second.port() + "/named.bin", 95);
  }

  @Test
  void aNameThatResolvesElsewhereTooWaitsForANetwork() throws Exception {
    second.file("/split.bin", 64 * 1024, 96);
    RecordingDelegate d = new RecordingDelegate();
    UrlSession s = open(d);
    DownloadTransfer split = s.download(URI.create("http://split.tether-test:" + second.port() + "/split.bin")).start();
    DownloadTransfer far = s.download(URI.create("http://far.tether-test:" + second.port() + "/far.bin")).start();
    await().atMost(Duration.ofSeconds(10)).until(() -> "network".equals(get(split.id()).path("waitingFor").asText())
        && "network".equals(get(far.id()).path("waitingFor").asText()));
    assertThat(second.requests("/split.bin")).isEmpty();
    assertThat(get(split.id()).path("attempts").asInt()).isZero();
    split.cancel();
    far.cancel();
  }
}
