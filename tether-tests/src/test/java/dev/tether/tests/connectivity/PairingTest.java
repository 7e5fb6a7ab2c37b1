package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.cli.Main;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.PairedDaemons;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PairingTest {
  @TempDir Path tmp;

  private static ObjectNode listen(DaemonProcess d) {
    try (DaemonClient c = d.client("dev.tether.cli")) {
      ObjectNode b = Json.object();
      b.put("host", "127.0.0.1");
      return c.call("cx.pair.listen", b);
    }
  }

  private static ObjectNode connect(DaemonProcess d, String address, String code) {
    try (DaemonClient c = d.client("dev.tether.cli")) {
      ObjectNode b = Json.object();
      b.put("address", address);
      b.put("code", code);
      return c.call("cx.pair.connect", b);
    }
  }

  private static ObjectNode peers(DaemonProcess d) {
    try (DaemonClient c = d.client("dev.tether.cli")) {
      return c.call("cx.peers", Json.object());
    }
  }

  @Test
  void pairedDaemonsPinEachOtherAndReconnectOnTheStoredPortAfterARestart() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      ObjectNode p = peers(d.primary);
      ObjectNode c = peers(d.companion);
      assertThat(p.path("role").asText()).isEqualTo("primary");
      assertThat(c.path("role").asText()).isEqualTo("companion");
      assertThat(p.path("peers").get(0).path("peer").asText()).isEqualTo(c.path("fingerprint").asText());
      assertThat(c.path("peers").get(0).path("peer").asText()).isEqualTo(p.path("fingerprint").asText());
      assertThat(p.path("peers").get(0).path("active").asBoolean()).isTrue();
      Path key = d.primary.home().resolve("link/identity.key");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");

      int port = p.path("port").asInt();
      d.primary.kill9();
      d.primary.start();
      assertThat(peers(d.primary).path("port").asInt()).isEqualTo(port);
      assertThat(peers(d.primary).path("fingerprint").asText()).isEqualTo(p.path("fingerprint").asText());
      d.awaitLinked();

      // the CLI shows the same, and unpair forgets the peer on that side
      StringWriter out = new StringWriter();
      var cl = Main.commandLine();
      cl.setOut(new PrintWriter(out));
      assertThat(cl.execute("--home", d.companion.home().toString(), "peers", "--json")).isZero();
      assertThat(Json.parse(out.toString()).path("peers").get(0).path("connected").asBoolean()).isTrue();
      assertThat(Main.run("--home", d.companion.home().toString(), "unpair", p.path("fingerprint").asText().substring(0, 12))).isZero();
      assertThat(peers(d.companion).path("peers").size()).isZero();
    }
  }

  @Test
  void wrongCodesAreRefusedAndTheThirdBurnsTheCode() throws Exception {
    try (DaemonProcess a = DaemonProcess.start(tmp.resolve("a")); DaemonProcess b = DaemonProcess.start(tmp.resolve("b"))) {
      ObjectNode offer = listen(a);
      String address = offer.path("address").asText();
      String code = offer.path("code").asText();
      for (int i = 1; i <= 3; i++) {
        assertThatThrownBy(() -> connect(b, address, "AAAA-BBBB-CCCC-DDDD"))
            .isInstanceOfSatisfying(TetherException.class, e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.PAIRING_FAILED);
              assertThat(e.getMessage()).contains("wrong code");
            });
      }
      assertThatThrownBy(() -> connect(b, address, code)).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.PAIRING_FAILED));
      assertThat(peers(a).path("peers").size()).isZero();
      assertThat(peers(b).path("peers").size()).isZero();

      // a fresh code works
      ObjectNode again = listen(a);
      connect(b, again.path("address").asText(), again.path("code").asText());
      assertThat(peers(a).path("peers").size()).isEqualTo(1);
    }
  }

  @Test
  void anUnpairedDaemonCannotConnectOrReadAnything() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp); DaemonProcess stranger = DaemonProcess.start(tmp.resolve("stranger"))) {
      int port = peers(d.primary).path("port").asInt();
      // no code armed: the TLS handshake fails on the pinned trust manager
      assertThatThrownBy(() -> connect(stranger, "127.0.0.1:" + port, "AAAA-BBBB-CCCC-DDDD"))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PAIRING_FAILED));
      // a TLS client without the pinned certificate gets no byte of application data
      SSLContext ctx = SSLContext.getInstance("TLSv1.3");
      ctx.init(null, new TrustManager[] {new X509TrustManager() {
        public void checkClientTrusted(X509Certificate[] c, String a) {}

        public void checkServerTrusted(X509Certificate[] c, String a) {}

        public X509Certificate[] getAcceptedIssuers() {
          return new X509Certificate[0];
        }
      }}, null);
      try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
        s.setSoTimeout(10_000);
        assertThatThrownBy(() -> {
          s.startHandshake();
          s.getOutputStream().write(new byte[] {0, 0, 0, 2, '{', '}'});
          s.getOutputStream().flush();
          InputStream in = s.getInputStream();
          if (in.read() < 0) {
            throw new java.io.EOFException("closed without data");
          }
        }).isInstanceOf(java.io.IOException.class);
      }
      assertThat(peers(stranger).path("peers").size()).isZero();
      assertThat(peers(d.primary).path("peers").size()).isEqualTo(1);
      assertThat(Files.readString(d.primary.home().resolve("logs/tetherd.log"))).contains("refused a peer connection");
    }
  }

  @Test
  void aSilentPeerIsDetectedByHeartbeatAndTheLinkComesBack() throws Exception {
    // heartbeats every 250 ms, so a link silent for 1.25 s (instead of 5 s) is dead: the same detection, sooner
    try (PairedDaemons d = PairedDaemons.start(tmp, "-Dtether.link.heartbeatMillis=250")) {
      long connections = d.proxy.connections();
      d.proxy.silence(true);
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
          .until(() -> !PairedDaemons.connected(d.primary) && !PairedDaemons.connected(d.companion));
      d.proxy.silence(false);
      d.proxy.cut();
      d.awaitLinked();
      assertThat(d.proxy.connections()).isGreaterThan(connections);
      // whichever side's heartbeat fires first closes the link; the other then sees it drop
      assertThat(Files.readString(d.primary.home().resolve("logs/tetherd.log"))
          + Files.readString(d.companion.home().resolve("logs/tetherd.log"))).contains("silent for more than");
    }
  }
}
