package dev.tether.daemon.internal.relay;

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
 * A real MQTT broker (Moquette) in the test JVM on ephemeral loopback ports; restartable on the same port. With
 * {@link #withTls} it also takes TLS on a second port, with the given certificate, and only the given users; with
 * {@link #withClientAuth} only clients that present a certificate from the given CA.
 */
final class EmbeddedBroker implements AutoCloseable {
  private final Path dir;
  private final SslContext tls;
  private final Map<String, String> users;
  private Server server;
  private int port;
  private int tlsPort;

  EmbeddedBroker(Path dir) throws IOException {
    this(dir, null, null);
  }

  private EmbeddedBroker(Path dir, SslContext tls, Map<String, String> users) throws IOException {
    this.dir = dir;
    this.tls = tls;
    this.users = users;
    start(0);
  }

  /** A broker with a TLS port presenting {@code cert} that accepts only {@code users} (user name to password). */
  static EmbeddedBroker withTls(Path dir, TestCa.Issued cert, TestCa ca, Map<String, String> users) throws IOException {
    try {
      return new EmbeddedBroker(dir, SslContextBuilder.forServer(cert.key().getPrivate(), cert.cert(), ca.cert).build(), users);
    } catch (SSLException e) {
      throw new IOException(e);
    }
  }

  /**
   * A broker whose TLS port presents {@code cert} and requires a TLS client certificate issued by {@code clientCa}
   * (Moquette's TLS listener with client authentication required), taking any client that presents one; no password.
   */
  static EmbeddedBroker withClientAuth(Path dir, TestCa.Issued cert, TestCa ca, TestCa clientCa) throws IOException {
    return withClientAuth(dir, cert, ca, clientCa, ClientAuth.REQUIRE, null);
  }

  /**
   * A broker whose TLS port asks for a client certificate from {@code clientCa} ({@code mode}: required, or optional)
   * and, when {@code users} is not null, also accepts only those users (user name to password).
   */
  static EmbeddedBroker withClientAuth(Path dir, TestCa.Issued cert, TestCa ca, TestCa clientCa, ClientAuth mode,
      Map<String, String> users) throws IOException {
    try {
      return new EmbeddedBroker(dir, SslContextBuilder.forServer(cert.key().getPrivate(), cert.cert(), ca.cert)
          .trustManager(clientCa.cert).clientAuth(mode).build(), users);
    } catch (SSLException e) {
      throw new IOException(e);
    }
  }

  private void start(int onPort) throws IOException {
    Properties p = new Properties();
    p.setProperty("host", "127.0.0.1");
    p.setProperty("port", Integer.toString(onPort));
    p.setProperty("websocket_port", "disabled");
    p.setProperty("allow_anonymous", Boolean.toString(users == null));
    p.setProperty("persistence_enabled", "false");
    p.setProperty("data_path", dir.toString());
    p.setProperty("netty.mqtt.message_size", Integer.toString(RelayTunnel.CHUNK + 4096));
    server = new Server();
    if (tls == null) {
      server.startServer(p);
    } else {
      p.setProperty("ssl_port", "0");
      IAuthenticator auth = (clientId, user, password) -> users == null || user != null && password != null
          && users.containsKey(user) && users.get(user).equals(new String(password, StandardCharsets.UTF_8));
      server.startServer(new MemoryConfig(p), null, () -> tls, auth, new PermitAllAuthorizatorPolicy());
    }
    // Moquette records the bound port when its asynchronous bind completes; until then it reports 0
    await().atMost(Duration.ofSeconds(30)).until(() -> server.getPort() > 0 && (tls == null || server.getSslPort() > 0));
    port = server.getPort();
    tlsPort = tls == null ? -1 : server.getSslPort();
  }

  int port() {
    return port;
  }

  int tlsPort() {
    return tlsPort;
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
