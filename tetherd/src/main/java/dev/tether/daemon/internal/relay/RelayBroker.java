package dev.tether.daemon.internal.relay;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * Where and how the relay reaches its MQTT broker: {@code mqtt://HOST[:PORT]} (plain TCP, port 1883 by default) or
 * {@code mqtts://HOST[:PORT]} (TLS 1.2 or 1.3, port 8883 by default, the broker's certificate and host name verified
 * against the JDK's default trust store or, when {@code caPem} is set, against the CA certificates in it), with an
 * optional MQTT user name and password and, for {@code mqtts://}, an optional X.509 client certificate the TLS handshake
 * logs in with ({@code clientCert}). The TLS here is only the hop to the broker; what the relay carries is the link's
 * own pinned mutual TLS either way. {@link #toString} never shows the password or the private key.
 */
public record RelayBroker(String uri, String host, int port, boolean tls, String username, String password, String caPem,
    ClientCertificate clientCert) {
  /** The default port of {@code mqtt://}. */
  public static final int MQTT_PORT = 1883;
  /** The default port of {@code mqtts://}. */
  public static final int MQTTS_PORT = 8883;

  /** A plain broker without credentials (what tests and the first relay version use). */
  public static RelayBroker of(String uri) {
    return parse(uri, null, null, null);
  }

  /**
   * Checks and returns a broker setting. {@code username}, {@code password} and {@code caPem} may be null. Bad input is
   * a {@link TetherException} with {@link ErrorCode#INVALID_PARAMETER} that says what to change.
   */
  public static RelayBroker parse(String uri, String username, String password, String caPem) {
    return parse(uri, username, password, caPem, null, null);
  }

  /**
   * Checks and returns a broker setting with an X.509 client certificate: {@code certPem} (the client's certificate,
   * then its CA chain) and {@code keyPem} (its private key) are both given or both null, and only with
   * {@code mqtts://} ({@link ClientCertificate#parse} checks them). Bad input is a {@link TetherException} with
   * {@link ErrorCode#INVALID_PARAMETER} that says what to change.
   */
  public static RelayBroker parse(String uri, String username, String password, String caPem, String certPem,
      String keyPem) {
    URI u;
    try {
      u = new URI(uri);
    } catch (URISyntaxException e) {
      throw invalid("relay broker " + uri + " is not a URI: " + e.getMessage());
    }
    String scheme = u.getScheme();
    if (!"mqtt".equals(scheme) && !"mqtts".equals(scheme)) {
      throw invalid("relay broker " + uri + " has " + (scheme == null ? "no scheme" : "the scheme " + scheme + "://")
          + ": use mqtts://HOST[:PORT] (TLS, port 8883 by default) or mqtt://HOST[:PORT] (plain, port 1883 by default)");
    }
    if (u.getRawAuthority() != null && u.getHost() == null) {
      // java.net.URI parses an authority it cannot read as host[:port] as a registry authority
      throw invalid("relay broker " + uri + " does not have a valid HOST[:PORT] (a port is 1..65535)");
    }
    if (u.getHost() == null) {
      throw invalid("relay broker " + uri + " has no host: use " + scheme + "://HOST[:PORT]");
    }
    if ((u.getPath() != null && !u.getPath().isEmpty() && !u.getPath().equals("/")) || u.getQuery() != null
        || u.getFragment() != null) {
      throw invalid("relay broker " + uri + " must be just " + scheme + "://HOST[:PORT] (no path or query)");
    }
    if (u.getUserInfo() != null) {
      throw invalid("relay broker " + uri + " has a user name in it: give it with --username and the password with "
          + "--password-file or TETHER_RELAY_PASSWORD, not in the URL");
    }
    boolean tls = scheme.equals("mqtts");
    int port = u.getPort() < 0 ? (tls ? MQTTS_PORT : MQTT_PORT) : u.getPort();
    if (port < 1 || port > 65535) {
      throw invalid("relay broker " + uri + " has port " + port + ", which is not in 1..65535");
    }
    if (password != null && username == null) {
      throw invalid("a relay broker password needs a user name (--username): MQTT 3.1.1 sends a password only with one");
    }
    if (username != null && username.getBytes(StandardCharsets.UTF_8).length > 0xffff) {
      throw invalid("the relay broker user name is longer than MQTT's 65,535 bytes");
    }
    if (password != null && password.getBytes(StandardCharsets.UTF_8).length > 0xffff) {
      throw invalid("the relay broker password is longer than MQTT's 65,535 bytes");
    }
    if (username != null && username.indexOf('\0') >= 0) {
      throw invalid("the relay broker user name contains U+0000, which MQTT does not allow");
    }
    if (caPem != null) {
      if (!tls) {
        throw invalid("a CA bundle (--ca-file) verifies a TLS broker: use mqtts:// with it, or leave it out for mqtt://");
      }
      certificates(caPem);
    }
    if ((certPem == null) != (keyPem == null)) {
      throw invalid(certPem == null ? "a private key (--key-file) needs its client certificate (--cert-file)"
          : "a client certificate (--cert-file) needs its private key (--key-file)");
    }
    ClientCertificate clientCert = null;
    if (certPem != null) {
      if (!tls) {
        throw invalid("a client certificate (--cert-file, --key-file) logs in during the TLS handshake: use mqtts:// "
            + "with it (plain mqtt:// has no TLS)");
      }
      clientCert = ClientCertificate.parse(certPem, keyPem);
    }
    String host = u.getHost();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1); // an IPv6 literal
    }
    return new RelayBroker(uri, host, port, tls, username, password, caPem, clientCert);
  }

  /** The X.509 certificates in a PEM bundle; at least one, or a {@link TetherException} (INVALID_PARAMETER). */
  public static List<X509Certificate> certificates(String pem) {
    if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
      throw invalid("the CA bundle holds no certificate (a PEM file with -----BEGIN CERTIFICATE----- blocks is needed)");
    }
    Collection<? extends Certificate> certs;
    try {
      certs = CertificateFactory.getInstance("X.509")
          .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
    } catch (CertificateException e) {
      throw invalid("the CA bundle is not PEM certificates (-----BEGIN CERTIFICATE-----): " + e.getMessage());
    }
    List<X509Certificate> list = new ArrayList<>();
    for (Certificate c : certs) {
      if (c instanceof X509Certificate x) {
        list.add(x);
      }
    }
    if (list.isEmpty()) {
      throw invalid("the CA bundle holds no certificate (a PEM file with -----BEGIN CERTIFICATE----- blocks is needed)");
    }
    return list;
  }

  private static TetherException invalid(String message) {
    return new TetherException(ErrorCode.INVALID_PARAMETER, message);
  }

  /** Where the broker's certificate is checked: the CA bundle given with --ca-file or the JDK's default trust store. */
  public String trustSource() {
    return caPem != null ? "the CA bundle given with --ca-file" : "the JDK's default trust store";
  }

  /**
   * The TLS socket factory for this broker: TLS 1.2/1.3, trusting {@link #caPem}'s certificates when set, otherwise the
   * JDK's default trust store, with {@code keys} choosing the client certificate (see {@link ClientCertKeyManager}).
   * Host name verification is set on each socket ({@link MqttClient}).
   */
  SSLSocketFactory socketFactory(ClientCertKeyManager keys) throws IOException {
    try {
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      if (caPem == null) {
        tmf.init((KeyStore) null);
      } else {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        int i = 0;
        for (X509Certificate c : certificates(caPem)) {
          ks.setCertificateEntry("ca-" + i++, c);
        }
        tmf.init(ks);
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(new KeyManager[] {keys}, tmf.getTrustManagers(), null);
      return ctx.getSocketFactory();
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS for the broker: " + e.getMessage(), e);
    }
  }

  /** {@code host:port}, for messages. */
  public String address() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  @Override
  public String toString() {
    return "RelayBroker[" + uri + (username == null ? "" : ", user " + username) + (password == null ? "" : ", password set")
        + (caPem == null ? "" : ", custom CA") + (clientCert == null ? "" : ", " + clientCert) + "]";
  }
}
