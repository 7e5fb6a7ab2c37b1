package dev.tether.daemon.internal.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Streams through a real MQTT broker between two tunnels, the far one bridging to an echo server. */
class RelayTunnelTest {
  static final String A = "a".repeat(64);
  static final String B = "b".repeat(64);

  @TempDir Path tmp;
  EmbeddedBroker broker;
  ServerSocket echo;
  RelayTunnel a;
  RelayTunnel b;

  void start(boolean bAcceptsA) throws IOException {
    broker = new EmbeddedBroker(tmp);
    echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      while (!echo.isClosed()) {
        try {
          Socket s = echo.accept();
          Thread e = new Thread(() -> {
            try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
              in.transferTo(out);
            } catch (IOException ignored) {
              // the test closed it
            }
          });
          e.setDaemon(true);
          e.start();
        } catch (IOException e) {
          return;
        }
      }
    });
    t.setDaemon(true);
    t.start();
    a = new RelayTunnel(RelayBroker.of(broker.uri()), A, B::equals, () -> 1);
    b = new RelayTunnel(RelayBroker.of(broker.uri()), B, fp -> bAcceptsA && fp.equals(A), echo::getLocalPort);
    a.start();
    b.start();
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(a.isConnected() && b.isConnected())
        .as("a: %s, b: %s", a.lastError(), b.lastError()).isTrue());
  }

  @AfterEach
  void stop() throws IOException {
    if (a != null) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
    if (echo != null) {
      echo.close();
    }
    if (broker != null) {
      broker.close();
    }
  }

  @Test
  void severalMibEchoBackIntactThroughTheBrokerWithTheWindowInForce() throws Exception {
    start(true);
    byte[] data = new byte[(int) (2 * RelayTunnel.WINDOW) + 12345]; // more than the window each way
    new Random(5).nextBytes(data);
    try (Socket s = a.open(B)) {
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        try {
          OutputStream out = s.getOutputStream();
          for (int off = 0; off < data.length; off += 100_000) {
            out.write(data, off, Math.min(100_000, data.length - off));
          }
          out.flush();
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      });
      byte[] back = s.getInputStream().readNBytes(data.length);
      writer.get();
      assertThat(back.length).as("bytes echoed before the stream ended").isEqualTo(data.length);
      assertThat(MessageDigest.getInstance("SHA-256").digest(back))
          .isEqualTo(MessageDigest.getInstance("SHA-256").digest(data));
      assertThat(a.streams()).isEqualTo(1);
      assertThat(b.isBridge(s.getLocalPort())).isFalse();
    }
    // closing one end closes the stream on both sides
    await().atMost(Duration.ofSeconds(10)).until(() -> a.streams() == 0 && b.streams() == 0);
  }

  @Test
  void aStreamFromADaemonThatIsNotPairedIsRefused() throws Exception {
    start(false);
    try (Socket s = a.open(B)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write("hello".getBytes());
      assertThat(s.getInputStream().read()).isEqualTo(-1);
    }
    assertThat(b.streams()).isZero();
  }

  @Test
  void losingTheBrokerClosesStreamsAndTheTunnelReconnects() throws Exception {
    start(true);
    Socket s = a.open(B);
    s.setSoTimeout(20_000);
    s.getOutputStream().write(1);
    assertThat(s.getInputStream().read()).isEqualTo(1);
    broker.restart();
    assertThat(s.getInputStream().read()).isEqualTo(-1);
    s.close();
    await().atMost(Duration.ofSeconds(30)).until(() -> a.isConnected() && b.isConnected());
    try (Socket again = a.open(B)) {
      again.setSoTimeout(20_000);
      again.getOutputStream().write(7);
      assertThat(again.getInputStream().read()).isEqualTo(7);
    }
  }

  record Seen(String topic, byte[] payload) {}

  @Test
  void aRepeatedMessageIsDroppedAnEarlyOneWaitsAndAGapThatStaysOrAnUnknownStreamClosesTheStream() throws Exception {
    start(true);
    java.util.Queue<Seen> seen = new java.util.concurrent.ConcurrentLinkedQueue<>();
    MqttClient observer = new MqttClient(RelayBroker.of(broker.uri()), "observer", "tether/v1/#",
        30, 1 << 20, new MqttClient.Handler() {
          @Override
          public void message(String topic, byte[] payload) {
            seen.add(new Seen(topic, payload));
          }

          @Override
          public void connected() {}

          @Override
          public void disconnected(String reason) {}
        });
    observer.start();
    try (observer) {
      await().atMost(Duration.ofSeconds(30)).until(observer::isConnected);
      try (Socket s = a.open(B)) {
        s.setSoTimeout(20_000);
        s.getOutputStream().write('x');
        assertThat(s.getInputStream().read()).isEqualTo('x');
        await().atMost(Duration.ofSeconds(10)).until(() -> seen.stream()
            .anyMatch(m -> m.topic().startsWith("tether/v1/" + B + "/" + A + "/") && m.payload()[0] == RelayTunnel.DATA));
        Seen data = seen.stream().filter(m -> m.topic().startsWith("tether/v1/" + B + "/" + A + "/") && m.payload()[0] == RelayTunnel.DATA)
            .findFirst().orElseThrow();
        // the broker delivering A's first DATA again (QoS 1 redelivery): dropped, the stream goes on, no second 'x'
        observer.publish(data.topic(), data.payload());
        s.getOutputStream().write('y');
        assertThat(s.getInputStream().read()).isEqualTo('y');
        // messages ahead of a missing one wait for it (a broker may reorder), and the stream goes on meanwhile ...
        for (int i = 0; i < RelayTunnel.MAX_AHEAD; i++) {
          observer.publish(data.topic(), RelayTunnel.message(RelayTunnel.DATA, 1_000_000 + i, new byte[] {'z'}, 0, 1));
        }
        s.getOutputStream().write('w');
        assertThat(s.getInputStream().read()).isEqualTo('w');
        // ... but a gap that does not fill closes the stream on both sides once too many wait
        observer.publish(data.topic(), RelayTunnel.message(RelayTunnel.DATA, 2_000_000, new byte[] {'z'}, 0, 1));
        assertThat(s.getInputStream().read()).isEqualTo(-1);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> a.streams() == 0 && b.streams() == 0);
      // DATA for a stream B does not know: B answers CLOSE on the reverse topic
      String unknown = "0123456789abcdef0123456789abcdef";
      observer.publish("tether/v1/" + B + "/" + A + "/" + unknown, RelayTunnel.message(RelayTunnel.DATA, 3, new byte[] {1}, 0, 1));
      await().atMost(Duration.ofSeconds(10)).until(() -> seen.stream()
          .anyMatch(m -> m.topic().equals("tether/v1/" + A + "/" + B + "/" + unknown) && m.payload()[0] == RelayTunnel.CLOSE));
      assertThat(b.streams()).isZero();
    }
  }
}
