package dev.tether.tests.support;

import static org.awaitility.Awaitility.await;

import io.moquette.broker.Server;
import io.moquette.broker.config.MemoryConfig;
import io.moquette.broker.security.IAuthenticator;
import io.moquette.broker.security.PermitAllAuthorizatorPolicy;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import javax.net.ssl.SSLException;

/**
 * A real MQTT broker (Moquette) in the test JVM on an ephemeral loopback port, with a {@link TcpFaultProxy} in front
 * so a test can cut its connections and see every byte it was sent. {@link #withTls} makes one that takes only TLS
 * clients (the proxy is in front of its TLS port) with a user name and password; {@link #withClientAuth} one that takes
 * only TLS clients presenting a certificate from a given CA.
 */
public final class MqttBroker implements AutoCloseable {
  private final Server server = new Server();
  private final boolean tls;
  public final TcpFaultProxy proxy;

  public MqttBroker(Path dataDir) throws IOException {
    this(dataDir, null, null);
  }

  /**
   * A broker whose proxied port takes TLS with {@code cert} (issued by {@code ca}) and accepts only {@code users} (user
   * name to password); {@link #uri} is {@code mqtts://localhost:PORT}.
   */
  public static MqttBroker withTls(Path dataDir, TestCa.Issued cert, TestCa ca, Map<String, String> users) throws IOException {
    try {
      return new MqttBroker(dataDir, SslContextBuilder.forServer(cert.key().getPrivate(), cert.cert(), ca.cert).build(), users);
    } catch (SSLException e) {
      throw new IOException(e);
    }
  }

  /**
   * A broker whose proxied port takes TLS with {@code cert} (issued by {@code ca}) and requires a client certificate
   * issued by {@code clientCa}, as AWS IoT Core or Mosquitto with {@code require_certificate true} do; no password.
   */
  public static MqttBroker withClientAuth(Path dataDir, TestCa.Issued cert, TestCa ca, TestCa clientCa) throws IOException {
    try {
      return new MqttBroker(dataDir, SslContextBuilder.forServer(cert.key().getPrivate(), cert.cert(), ca.cert)
          .trustManager(clientCa.cert).clientAuth(ClientAuth.REQUIRE).build(), null);
    } catch (SSLException e) {
      throw new IOException(e);
    }
  }

  private MqttBroker(Path dataDir, SslContext sslContext, Map<String, String> users) throws IOException {
    this.tls = sslContext != null;
    Properties p = new Properties();
    p.setProperty("host", "127.0.0.1");
    p.setProperty("port", "0");
    p.setProperty("websocket_port", "disabled");
    p.setProperty("allow_anonymous", "true");
    p.setProperty("persistence_enabled", "false");
    p.setProperty("data_path", dataDir.toString());
    // the relay's messages carry up to 32 KiB of TLS records (Moquette's default limit is 8 KiB)
    p.setProperty("netty.mqtt.message_size", Integer.toString(64 * 1024));
    if (sslContext == null) {
      server.startServer(p);
    } else {
      p.setProperty("ssl_port", "0");
      p.setProperty("allow_anonymous", Boolean.toString(users == null));
      IAuthenticator auth = (clientId, user, password) -> users == null || user != null && password != null
          && users.containsKey(user) && users.get(user).equals(new String(password, StandardCharsets.UTF_8));
      server.startServer(new MemoryConfig(p), null, () -> sslContext, auth, new PermitAllAuthorizatorPolicy());
    }
    // Moquette records the bound port when its asynchronous bind completes; until then it reports 0
    await().atMost(Duration.ofSeconds(30)).until(() -> server.getPort() > 0 && (!tls || server.getSslPort() > 0));
    proxy = new TcpFaultProxy(tls ? server.getSslPort() : server.getPort());
  }

  /**
   * The broker's address as daemons are given it: through the proxy ({@code mqtts://localhost:PORT} with TLS, for the
   * name its certificate carries).
   */
  public String uri() {
    return tls ? "mqtts://localhost:" + proxy.port()
        : "mqtt://" + proxy.address();
  }

  @Override
  public void close() throws IOException {
    proxy.close();
    server.stopServer();
  }
}
