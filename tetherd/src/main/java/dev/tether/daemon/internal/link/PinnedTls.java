package dev.tether.daemon.internal.link;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.function.Predicate;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Stateless, any thread (its trust managers run on the thread doing a handshake): TLS 1.3 contexts for peer links: this daemon presents its own certificate, and the other side's certificate is
 * accepted only when it is a valid self-signed certificate whose fingerprint the given rule accepts (for links:
 * exactly the pinned ones). Verification is never switched off: an unknown certificate fails the handshake.
 */
public final class PinnedTls {
  public static final String PROTOCOL = "TLSv1.3";
  /**
   * The TLS 1.3 cipher suites in order of preference. AES-128-GCM comes first: 128-bit security, and in the JDK about
   * 1.5 times the throughput of AES-256-GCM, which matters for file transfers.
   */
  static final String[] CIPHER_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"};

  private PinnedTls() {}

  /** Restricts {@code socket} to TLS 1.3 with {@link #CIPHER_SUITES}, in that order of preference. */
  static void configure(javax.net.ssl.SSLSocket socket) {
    socket.setEnabledProtocols(new String[] {PROTOCOL});
    socket.setEnabledCipherSuites(CIPHER_SUITES);
  }

  /**
   * The accepting side of a connection ({@code socket} in server mode): the same protocol and suites, picked by its
   * own order of preference, and the peer must present its certificate.
   */
  static void configureServer(javax.net.ssl.SSLSocket socket) {
    socket.setUseClientMode(false);
    socket.setNeedClientAuth(true);
    configure(socket);
    javax.net.ssl.SSLParameters p = socket.getSSLParameters();
    p.setUseCipherSuitesOrder(true);
    socket.setSSLParameters(p);
  }

  /** The same for a listening socket, which picks the suite by its own order of preference. */
  static void configure(javax.net.ssl.SSLServerSocket socket) {
    socket.setEnabledProtocols(new String[] {PROTOCOL});
    socket.setEnabledCipherSuites(CIPHER_SUITES);
    javax.net.ssl.SSLParameters p = socket.getSSLParameters();
    p.setUseCipherSuitesOrder(true);
    socket.setSSLParameters(p);
  }

  /** A context that presents {@code identity} and trusts a peer certificate when {@code accept} says so. */
  public static SSLContext context(Identity identity, Predicate<String> accept) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      char[] pw = "tether".toCharArray();
      ks.setKeyEntry("identity", identity.key(), pw, new X509Certificate[] {identity.certificate()});
      KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
      kmf.init(ks, pw);
      KeyManager[] kms = kmf.getKeyManagers();
      SSLContext ctx = SSLContext.getInstance(PROTOCOL);
      ctx.init(kms, new TrustManager[] {new Pinned(accept)}, new java.security.SecureRandom());
      return ctx;
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new IllegalStateException("cannot build the TLS context: " + e, e);
    }
  }

  /** Accepts exactly the certificates whose fingerprint the rule accepts, after checking they are well-formed. */
  static final class Pinned extends X509ExtendedTrustManager {
    private final Predicate<String> accept;

    Pinned(Predicate<String> accept) {
      this.accept = accept;
    }

    private void check(X509Certificate[] chain) throws CertificateException {
      if (chain == null || chain.length != 1) {
        throw new CertificateException("a Tether peer presents exactly one self-signed certificate");
      }
      X509Certificate c = chain[0];
      c.checkValidity();
      try {
        c.verify(c.getPublicKey());
      } catch (GeneralSecurityException e) {
        throw new CertificateException("peer certificate is not validly self-signed: " + e.getMessage());
      }
      String fp = Identity.fingerprint(c);
      if (!accept.test(fp)) {
        throw new CertificateException("peer certificate " + fp + " is not pinned for this daemon (unpaired or re-keyed peer)");
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      check(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
