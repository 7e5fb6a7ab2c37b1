package dev.tether.tests.support;

import static org.awaitility.Awaitility.await;

import io.moquette.broker.Server;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;

/**
 * A real MQTT broker (Moquette) in the test JVM on an ephemeral loopback port, with a {@link TcpFaultProxy} in front
 * so a test can cut its connections and see every byte it was sent.
 */
public final class MqttBroker implements AutoCloseable {
  private final Server server = new Server();
  public final TcpFaultProxy proxy;

  public MqttBroker(Path dataDir) throws IOException {
    Properties p = new Properties();
    p.setProperty("host", "127.0.0.1");
    p.setProperty("port", "0");
    p.setProperty("websocket_port", "disabled");
    p.setProperty("allow_anonymous", "true");
    p.setProperty("persistence_enabled", "false");
    p.setProperty("data_path", dataDir.toString());
    // the relay's messages carry up to 32 KiB of TLS records (Moquette's default limit is 8 KiB)
    p.setProperty("netty.mqtt.message_size", Integer.toString(64 * 1024));
    server.startServer(p);
    // Moquette records the bound port when its asynchronous bind completes; until then it reports 0
    await().atMost(Duration.ofSeconds(30)).until(() -> server.getPort() > 0);
    proxy = new TcpFaultProxy(server.getPort());
  }

  /** The broker's address as daemons are given it: through the proxy. */
  public String uri() {
    return "mqtt://" + proxy.address();
  }

  @Override
  public void close() throws IOException {
    proxy.close();
    server.stopServer();
  }
}
