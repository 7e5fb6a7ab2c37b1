package dev.tether.daemon.internal.relay;

import static org.awaitility.Awaitility.await;

import io.moquette.broker.Server;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;

/** A real MQTT broker (Moquette) in the test JVM on an ephemeral loopback port; restartable on the same port. */
final class EmbeddedBroker implements AutoCloseable {
  private final Path dir;
  private Server server;
  private int port;

  EmbeddedBroker(Path dir) throws IOException {
    this.dir = dir;
    start(0);
  }

  private void start(int onPort) throws IOException {
    Properties p = new Properties();
    p.setProperty("host", "127.0.0.1");
    p.setProperty("port", Integer.toString(onPort));
    p.setProperty("websocket_port", "disabled");
    p.setProperty("allow_anonymous", "true");
    p.setProperty("persistence_enabled", "false");
    p.setProperty("data_path", dir.toString());
    p.setProperty("netty.mqtt.message_size", Integer.toString(RelayTunnel.CHUNK + 4096));
    server = new Server();
    server.startServer(p);
    // Moquette records the bound port when its asynchronous bind completes; until then it reports 0
    await().atMost(Duration.ofSeconds(30)).until(() -> server.getPort() > 0);
    port = server.getPort();
  }

  int port() {
    return port;
  }

  String uri() {
    return "mqtt://127.0.0.1:" + port;
  }

  /** Stops the broker and starts a fresh one (no sessions kept) on the same port. */
  void restart() throws IOException {
    server.stopServer();
    start(port);
  }

  @Override
  public void close() {
    server.stopServer();
  }
}
