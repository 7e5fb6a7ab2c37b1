package dev.tether.daemon.internal.relay;

import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.relay.MqttPacket.ConnAck;
import dev.tether.daemon.internal.relay.MqttPacket.Connect;
import dev.tether.daemon.internal.relay.MqttPacket.Disconnect;
import dev.tether.daemon.internal.relay.MqttPacket.PingReq;
import dev.tether.daemon.internal.relay.MqttPacket.PingResp;
import dev.tether.daemon.internal.relay.MqttPacket.PubAck;
import dev.tether.daemon.internal.relay.MqttPacket.Publish;
import dev.tether.daemon.internal.relay.MqttPacket.SubAck;
import dev.tether.daemon.internal.relay.MqttPacket.Subscribe;
import dev.tether.daemon.internal.relay.MqttPacket.Subscription;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A minimal MQTT 3.1.1 client: one TCP connection to the broker (TLS 1.2/1.3 for {@code mqtts://}, with the broker's
 * certificate and host name verified, and an optional client certificate) with a clean session and optional user name
 * and password, one subscription, QoS 1 publishing and receiving (PUBACK both ways), PINGREQ every half keep-alive,
 * and a reconnect with back-off (200 ms
 * doubling to 10 s, with jitter; to 60 s while the broker refuses the credentials or the TLS handshake fails, since
 * only a change of setting or of the broker fixes that) whenever the broker goes away. One thread reads and reconnects;
 * publishers write under a lock. Messages are not queued while disconnected: {@link #publish} fails, and the caller
 * (the relay tunnel) closes what depended on the connection. Failures are put in words a person can act on
 * ({@link #lastError}), logged at WARN when they change.
 */
public final class MqttClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MqttClient.class);

  /** What the client reports; all calls come from its reading thread. */
  public interface Handler {
    /** A message on the subscription. */
    void message(String topic, byte[] payload);

    /** The session is up (CONNACK and SUBACK received). */
    void connected();

    /** The session ended (it may have never started); {@code reason} says why. */
    void disconnected(String reason);
  }

  private final RelayBroker broker;
  private final String clientId;
  private final String subscription;
  private final int keepAliveSeconds;
  private final int maxPacketBytes;
  private final Handler handler;
  private final Object writeLock = new Object();
  private final Set<Integer> inFlight = ConcurrentHashMap.newKeySet();
  private final Thread thread;
  private int nextId = 1;
  private volatile Socket socket;
  private volatile OutputStream out;
  private volatile boolean connected;
  private volatile boolean closed;
  private volatile String lastError;
  private volatile Instant lastErrorAt;
  private String lastLogged;
  /** The key manager of the current attempt's TLS handshake: whether the broker asked for a client certificate. */
  private volatile ClientCertKeyManager attemptKeys;
  /** Whether the current attempt got the broker's CONNACK (so a failure is no longer about the TLS handshake). */
  private volatile boolean connackReceived;

  public MqttClient(RelayBroker broker, String clientId, String subscription, int keepAliveSeconds,
      int maxPacketBytes, Handler handler) {
    this.broker = broker;
    this.clientId = clientId;
    this.subscription = subscription;
    this.keepAliveSeconds = keepAliveSeconds;
    this.maxPacketBytes = maxPacketBytes;
    this.handler = handler;
    this.thread = Threads.named("tether-relay-mqtt").newThread(this::run);
  }

  public void start() {
    thread.start();
  }

  public boolean isConnected() {
    return connected;
  }

  /** Why the last connection failed or ended, in words a person can act on; null when none has. */
  public String lastError() {
    return lastError;
  }

  /** When {@link #lastError} happened; null when none has. */
  public Instant lastErrorAt() {
    return lastErrorAt;
  }

  /** Publishes with QoS 1; fails when the client is not connected or the write fails. */
  public void publish(String topic, byte[] payload) throws IOException {
    synchronized (writeLock) {
      if (!connected) {
        throw new IOException("not connected to the MQTT broker " + broker.address());
      }
      int id = nextId;
      nextId = nextId == 0xffff ? 1 : nextId + 1;
      if (!inFlight.add(id)) {
        throw new IOException("65535 MQTT publications are awaiting their PUBACK");
      }
      write(new Publish(topic, 1, id, false, false, payload));
    }
  }

  private void write(MqttPacket p) throws IOException {
    synchronized (writeLock) {
      OutputStream o = out;
      if (o == null) {
        throw new IOException("not connected to the MQTT broker");
      }
      try {
        o.write(MqttCodec.encode(p));
        o.flush();
      } catch (IOException e) {
        closeSocket();
        throw e;
      }
    }
  }

  private void run() {
    long backoff = 200;
    while (!closed) {
      boolean wasUp = false;
      boolean refused = false;
      String reason;
      try {
        session();
        reason = "the broker closed the connection";
      } catch (BrokerRefusedException e) {
        String cert = connackReceived ? null : clientCertificateProblem(e);
        reason = cert != null ? cert : e.getMessage();
        refused = true;
      } catch (SSLException e) {
        String cert = clientCertificateProblem(e);
        reason = cert != null ? cert : describeTls(e);
        refused = true;
      } catch (IOException | RuntimeException e) {
        String cert = connackReceived || e instanceof RuntimeException ? null : clientCertificateProblem((IOException) e);
        refused = cert != null;
        reason = cert != null ? cert : e.getMessage() == null ? e.toString() : e.getMessage();
      } finally {
        wasUp = connected;
        synchronized (writeLock) {
          connected = false;
          out = null;
        }
        closeSocket();
        inFlight.clear();
      }
      if (closed) {
        return;
      }
      lastError = reason;
      lastErrorAt = Instant.now();
      if (wasUp) {
        log.warn("lost the MQTT broker {}: {}", broker.address(), reason);
        backoff = 200;
      } else if (!reason.equals(lastLogged)) {
        log.warn("cannot connect to the MQTT broker {}: {}", broker.uri(), reason);
      } else {
        log.debug("cannot connect to the MQTT broker {}: {}", broker.uri(), reason);
      }
      lastLogged = reason;
      handler.disconnected(reason);
      try {
        Thread.sleep(backoff + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
      } catch (InterruptedException e) {
        return;
      }
      backoff = Math.min(refused ? 60_000 : 10_000, backoff * 2);
    }
  }

  private void session() throws IOException {
    attemptKeys = null;
    connackReceived = false;
    Socket s = new Socket();
    socket = s;
    if (closed) {
      s.close();
      return;
    }
    try {
      s.connect(new InetSocketAddress(broker.host(), broker.port()), 5_000); // resolved on each attempt
    } catch (IOException e) {
      throw new IOException("cannot reach " + broker.address() + ": " + e.getMessage(), e);
    }
    s.setTcpNoDelay(true);
    s.setSoTimeout(10_000);
    if (broker.tls()) {
      s = tls(s);
      socket = s;
    }
    // the broker answers a PINGREQ every half keep-alive, so a keep-alive of silence means it is gone
    s.setSoTimeout(keepAliveSeconds * 1000);
    InputStream in = new BufferedInputStream(s.getInputStream(), 64 * 1024);
    synchronized (writeLock) {
      out = new BufferedOutputStream(s.getOutputStream(), 64 * 1024);
    }
    byte[] password = broker.password() == null ? null : broker.password().getBytes(StandardCharsets.UTF_8);
    write(new Connect(clientId, true, keepAliveSeconds, broker.username(), password));
    in.mark(1);
    int firstByte;
    try {
      firstByte = in.read();
    } catch (SocketTimeoutException e) {
      throw new IOException("the broker did not answer CONNECT within " + keepAliveSeconds + " s", e);
    }
    if (firstByte < 0) {
      throw new BrokerRefusedException("the broker closed the connection without answering CONNECT"
          + (broker.tls() ? " (a broker may do that instead of refusing a client)"
              : ": if port " + broker.port() + " takes TLS, use mqtts://" + broker.address()));
    }
    if (!broker.tls() && (firstByte == 0x15 || firstByte == 0x16)) {
      throw new BrokerRefusedException("the broker answered with TLS: port " + broker.port() + " takes TLS, use mqtts://"
          + broker.address());
    }
    in.reset();
    MqttPacket first = MqttCodec.read(in, maxPacketBytes);
    if (!(first instanceof ConnAck ack)) {
      throw new MalformedPacketException("the broker answered CONNECT with " + first + ", not CONNACK");
    }
    connackReceived = true;
    if (ack.returnCode() != 0) {
      ClientCertKeyManager keys = attemptKeys;
      boolean askedForCert = keys != null && keys.requested() && broker.clientCert() == null;
      throw new BrokerRefusedException(refusal(ack.returnCode()) + (askedForCert && ack.returnCode() >= 4
          ? "; the broker also asked for a client certificate: if it logs clients in with one, give it with tether "
              + "relay set " + broker.uri() + " --cert-file CERT.pem --key-file KEY.pem" : ""));
    }
    write(new Subscribe(1, List.of(new Subscription(subscription, 1))));
    Thread pinger = Threads.start("tether-relay-ping", this::ping);
    try {
      while (!closed) {
        MqttPacket p = MqttCodec.read(in, maxPacketBytes);
        if (p == null) {
          return;
        }
        if (p instanceof Publish pub) {
          if (pub.qos() == 1) {
            write(new PubAck(pub.packetId()));
          } else if (pub.qos() == 2) {
            throw new MalformedPacketException("the broker sent QoS 2 on a QoS 1 subscription");
          }
          handler.message(pub.topic(), pub.payload());
        } else if (p instanceof PubAck a) {
          if (!inFlight.remove(a.packetId())) {
            throw new MalformedPacketException("PUBACK for packet id " + a.packetId() + ", which is not in flight");
          }
        } else if (p instanceof SubAck a) {
          if (a.packetId() != 1 || a.returnCodes().size() != 1) {
            throw new MalformedPacketException("unexpected SUBACK " + a);
          }
          if (a.returnCodes().get(0) == 0x80) {
            throw new IOException("the broker refused the subscription to " + subscription);
          }
          if (!connected) {
            connected = true;
            lastError = null;
            lastLogged = null;
            log.info("connected to the MQTT broker {}{}{}", broker.uri(),
                broker.username() == null ? "" : " as " + broker.username(),
                broker.clientCert() == null ? "" : " with the client certificate " + broker.clientCert().subject());
            handler.connected();
          }
        } else if (!(p instanceof PingResp)) {
          throw new MalformedPacketException("unexpected " + p.getClass().getSimpleName() + " from the broker");
        }
      }
    } finally {
      pinger.interrupt();
    }
  }

  /** Layers TLS over {@code plain}: TLS 1.2/1.3, the broker's certificate and host name verified, SNI when a name. */
  private SSLSocket tls(Socket plain) throws IOException {
    ClientCertKeyManager keys = new ClientCertKeyManager(broker.clientCert());
    attemptKeys = keys;
    SSLSocket t = (SSLSocket) broker.socketFactory(keys).createSocket(plain, broker.host(), broker.port(), true);
    SSLParameters params = t.getSSLParameters();
    // "HTTPS" is RFC 2818's check: the certificate's subject alternative names must include the host (or its IP)
    params.setEndpointIdentificationAlgorithm("HTTPS");
    List<String> protocols = new java.util.ArrayList<>();
    for (String p : t.getSupportedProtocols()) {
      if (p.equals("TLSv1.3") || p.equals("TLSv1.2")) {
        protocols.add(p);
      }
    }
    params.setProtocols(protocols.toArray(String[]::new));
    if (!isIpLiteral(broker.host())) {
      params.setServerNames(List.of(new SNIHostName(broker.host())));
    }
    t.setSSLParameters(params);
    try {
      t.startHandshake();
    } catch (SocketTimeoutException e) {
      t.close();
      throw new IOException("the TLS handshake with " + broker.address() + " did not finish within 10 s: if port "
          + broker.port() + " takes plain MQTT, use mqtt://" + broker.address(), e);
    } catch (IOException e) {
      t.close();
      throw e;
    }
    return t;
  }

  private static boolean isIpLiteral(String host) {
    return host.indexOf(':') >= 0 || host.matches("[0-9.]+");
  }

  /** A CONNACK refusal in words a person can act on. */
  String refusal(int code) {
    String user = broker.username();
    return switch (code) {
      case 1 -> "the broker refused the connection (CONNACK 1, unacceptable protocol version): it does not accept "
          + "MQTT 3.1.1 clients; enable MQTT 3.1.1 on the broker or use another one";
      case 2 -> "the broker refused the connection (CONNACK 2, identifier rejected): it does not accept the client id "
          + clientId + "; allow client ids of 23 characters (letters, digits and '-') on the broker";
      case 3 -> "the broker refused the connection (CONNACK 3, server unavailable): the MQTT service is not available "
          + "right now; tetherd keeps retrying, and the broker's operator can tell why";
      case 4 -> "the broker refused the connection (CONNACK 4, bad user name or password)"
          + (user == null ? ": it needs a user name and password; set them with tether relay set " + broker.uri()
              + " --username USER --password-file FILE"
              : " for user " + user + ": check the user name and the password (tether relay set " + broker.uri()
                  + " --username USER --password-file FILE, or TETHER_RELAY_PASSWORD)");
      case 5 -> "the broker refused the connection (CONNACK 5, not authorized)"
          + (user == null ? ": it does not accept anonymous clients; set a user name and password with tether relay set "
              + broker.uri() + " --username USER --password-file FILE"
              : ": user " + user + " may not connect; the broker's operator must allow it");
      default -> "the broker refused the connection (CONNACK return code " + code + ")";
    };
  }

  /**
   * When the broker asked for a client certificate in this attempt's handshake and then ended the connection before
   * its CONNACK (with a TLS alert, a reset or a close; in TLS 1.3 the broker judges the client's certificate after the
   * client's side of the handshake has finished, so this shows on the first read), the failure in words that say what
   * to change; otherwise (no request, a timeout, our own check of the broker's certificate failed) null.
   */
  String clientCertificateProblem(IOException e) {
    ClientCertKeyManager keys = attemptKeys;
    if (keys == null || !keys.requested() || e instanceof SocketTimeoutException
        || e.getCause() instanceof SocketTimeoutException) {
      return null;
    }
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof CertificateException || c instanceof CertPathBuilderException
          || c instanceof CertPathValidatorException) {
        return null; // the broker's certificate failed our checks: describeTls says so
      }
    }
    String detail = e.getMessage() == null ? e.toString() : e.getMessage();
    String set = "tether relay set " + broker.uri() + " --cert-file CERT.pem --key-file KEY.pem";
    String named = keys.issuers().isEmpty() ? "" : " (the broker said it trusts: " + String.join("; ", keys.issuers()) + ")";
    ClientCertificate cert = broker.clientCert();
    if (cert == null) {
      return "TLS to " + broker.address() + " failed: the broker asked for a client certificate and ended the "
          + "connection without one (" + detail + "): give the certificate and key the broker knows this device by "
          + "with " + set;
    }
    if (!keys.offered()) {
      return "TLS to " + broker.address() + " failed: the broker asked for a client certificate with a key of type "
          + String.join(" or ", keys.keyTypes()) + ", but the one set has a " + cert.keyType() + " key, so none was sent ("
          + detail + "): give a certificate with such a key with " + set;
    }
    return "TLS to " + broker.address() + " failed: the broker did not accept the client certificate "
        + cert.describe() + " (" + detail + "): it must be issued by a CA the broker trusts for clients" + named
        + ", be valid, and be registered or allowed there; have the broker's operator allow it, or give another with "
        + set;
  }

  /** A failed TLS handshake in words: which check failed and what to do. */
  String describeTls(SSLException e) {
    String detail = e.getMessage() == null ? e.toString() : e.getMessage();
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof CertificateExpiredException || c instanceof CertificateNotYetValidException) {
        return "TLS to " + broker.address() + " failed: the broker's certificate has expired or is not yet valid ("
            + c.getMessage() + "); the broker's operator must renew it, or the clock here is wrong";
      }
      if (c instanceof CertificateException && c.getMessage() != null && (c.getMessage().startsWith("No subject alternative")
          || c.getMessage().startsWith("No name matching"))) {
        return "TLS to " + broker.address() + " failed: host name mismatch, the broker's certificate does not name "
            + broker.host() + " (" + c.getMessage() + "); use the host name the certificate was issued for in the "
            + "mqtts:// URL, or have the certificate reissued for " + broker.host();
      }
      if (c instanceof CertPathBuilderException || c instanceof CertPathValidatorException) {
        return "TLS to " + broker.address() + " failed: the broker's certificate is not trusted by "
            + broker.trustSource() + " (" + c.getMessage() + "); give the CA certificate that signed it with "
            + "tether relay set " + broker.uri() + " --ca-file PEM";
      }
    }
    if (detail.contains("Unsupported or unrecognized SSL message")) {
      return "TLS to " + broker.address() + " failed: the broker did not answer with TLS; if port " + broker.port()
          + " takes plain MQTT, use mqtt://" + broker.address() + ", otherwise use the broker's TLS port (usually 8883)";
    }
    if (detail.contains("Remote host terminated the handshake") || e.getCause() instanceof java.io.EOFException) {
      return "TLS to " + broker.address() + " failed: the broker closed the connection during the handshake; if port "
          + broker.port() + " takes plain MQTT, use mqtt://" + broker.address()
          + ", otherwise check that it accepts TLS 1.2 or 1.3 without a client certificate";
    }
    return "TLS to " + broker.address() + " failed: " + detail + " (check the broker's TLS port and certificate)";
  }

  private void ping() {
    long interval = keepAliveSeconds * 500L;
    while (!closed) {
      try {
        Thread.sleep(interval);
        write(new PingReq());
      } catch (InterruptedException | IOException e) {
        return;
      }
    }
  }

  /** The broker refused the session (a CONNACK refusal, or it hung up or spoke TLS instead of answering CONNECT). */
  static final class BrokerRefusedException extends IOException {
    BrokerRefusedException(String message) {
      super(message);
    }
  }

  private void closeSocket() {
    Socket s = socket;
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      if (connected) {
        write(new Disconnect());
      }
    } catch (IOException ignored) {
      // the connection is going anyway
    }
    closeSocket();
    thread.interrupt();
  }
}
