package dev.tether.daemon.internal.relay;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.io.IOException;
import java.io.StringReader;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * The X.509 client certificate (with its chain) and private key the relay logs in to its MQTT broker with over TLS
 * (brokers such as AWS IoT Core, or Mosquitto with {@code require_certificate true}, authenticate clients that way).
 * {@link #parse} checks what {@code tether relay set --cert-file --key-file} read: PEM certificates, the first one the
 * client's own; a PEM private key in PKCS#8 or the traditional EC/RSA form, not encrypted; the key matching the
 * certificate's public key. The chain and key are kept in a normal form ({@link #chainPem}, {@link #keyPem}) for the
 * store. {@link #toString} names the certificate and never shows the key.
 */
public final class ClientCertificate {
  private final List<X509Certificate> chain;
  private final PrivateKey key;
  private final String chainPem;
  private final String keyPem;

  private ClientCertificate(List<X509Certificate> chain, PrivateKey key) {
    this.chain = List.copyOf(chain);
    this.key = key;
    StringBuilder b = new StringBuilder();
    try {
      for (X509Certificate c : chain) {
        b.append(pem("CERTIFICATE", c.getEncoded()));
      }
    } catch (java.security.cert.CertificateEncodingException e) {
      throw invalid("the client certificate (--cert-file) cannot be encoded again: " + e.getMessage());
    }
    this.chainPem = b.toString();
    this.keyPem = pem("PRIVATE KEY", key.getEncoded()); // PKCS#8, as the JDK encodes every private key
  }

  /**
   * Checks and returns a client certificate: {@code certPem} holds the client's certificate first, then any
   * intermediate CA certificates; {@code keyPem} its private key. Anything wrong is a {@link TetherException} with
   * {@link ErrorCode#INVALID_PARAMETER} that says what to change. Texts other than certificates in {@code certPem} and
   * other than the key in {@code keyPem} are ignored, so one file holding both may be given for each.
   */
  public static ClientCertificate parse(String certPem, String keyPem) {
    List<X509Certificate> chain = certificates(certPem);
    PrivateKey key = privateKey(keyPem);
    X509Certificate leaf = chain.get(0);
    if (!matches(key, leaf.getPublicKey())) {
      for (int i = 1; i < chain.size(); i++) {
        if (matches(key, chain.get(i).getPublicKey())) {
          throw invalid("the private key (--key-file) belongs to certificate " + (i + 1) + " in --cert-file ("
              + chain.get(i).getSubjectX500Principal().getName() + "), not to the first: put the client's own "
              + "certificate first, then the CA certificates that issued it");
        }
      }
      throw invalid("the private key (--key-file) does not match the client certificate (--cert-file, "
          + leaf.getSubjectX500Principal().getName() + "): give the key the certificate was issued for"
          + (key.getAlgorithm().equals(leaf.getPublicKey().getAlgorithm()) ? ""
              : " (the key is " + keyName(key.getAlgorithm()) + ", the certificate's is "
                  + keyName(leaf.getPublicKey().getAlgorithm()) + ")"));
    }
    return new ClientCertificate(chain, key);
  }

  private static List<X509Certificate> certificates(String pem) {
    List<X509Certificate> list = new ArrayList<>();
    JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      for (Object o = p.readObject(); o != null; o = p.readObject()) {
        if (o instanceof X509CertificateHolder h) {
          list.add(converter.getCertificate(h));
        }
      }
    } catch (IOException | CertificateException | RuntimeException e) {
      throw invalid("the client certificate (--cert-file) is not valid PEM: " + message(e)
          + " (a DER file converts with: openssl x509 -inform der -in CERT.der -out CERT.pem)");
    }
    if (list.isEmpty()) {
      throw invalid("the client certificate file (--cert-file) holds no certificate: give a PEM file with a "
          + "-----BEGIN CERTIFICATE----- block (a DER file converts with: openssl x509 -inform der -in CERT.der -out CERT.pem)");
    }
    return list;
  }

  private static PrivateKey privateKey(String pem) {
    JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
    boolean anyPem = false;
    try (PEMParser p = new PEMParser(new StringReader(pem))) {
      for (Object o = p.readObject(); o != null; o = p.readObject()) {
        anyPem = true;
        if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
          throw invalid("the private key (--key-file) is encrypted with a passphrase, which tetherd cannot ask for: "
              + "decrypt it with openssl (openssl pkey -in KEY.pem -out KEY-plain.pem, then chmod 600 KEY-plain.pem) "
              + "and give that file");
        }
        if (o instanceof PEMKeyPair kp) {
          // the traditional forms; an EC key's public half is optional there, so only the private one is read
          return converter.getPrivateKey(kp.getPrivateKeyInfo());
        }
        if (o instanceof PrivateKeyInfo info) {
          return converter.getPrivateKey(info);
        }
      }
    } catch (TetherException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw invalid("the private key (--key-file) is not a PEM private key: " + message(e)
          + " (a DER key converts with: openssl pkey -inform der -in KEY.der -out KEY.pem)");
    }
    throw invalid("the private key file (--key-file) holds no private key: give a PEM file with a -----BEGIN PRIVATE "
        + "KEY----- (PKCS#8), -----BEGIN EC PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY----- block"
        + (anyPem ? "" : " (a DER key converts with: openssl pkey -inform der -in KEY.der -out KEY.pem)"));
  }

  /** Whether {@code key} is the private half of {@code pub}: it signs random bytes and {@code pub} verifies them. */
  private static boolean matches(PrivateKey key, PublicKey pub) {
    if (!key.getAlgorithm().equals(pub.getAlgorithm())) {
      return false;
    }
    String alg = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "RSASSA-PSS" -> "RSASSA-PSS";
      case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
      default -> throw invalid("the private key (--key-file) is a " + key.getAlgorithm() + " key: use an EC or RSA key");
    };
    byte[] challenge = new byte[32];
    new SecureRandom().nextBytes(challenge);
    try {
      Signature s = Signature.getInstance(alg);
      if (alg.equals("RSASSA-PSS")) {
        s.setParameter(new java.security.spec.PSSParameterSpec("SHA-256", "MGF1",
            java.security.spec.MGF1ParameterSpec.SHA256, 32, 1));
      }
      s.initSign(key);
      s.update(challenge);
      byte[] sig = s.sign();
      s.initVerify(pub);
      s.update(challenge);
      return s.verify(sig);
    } catch (GeneralSecurityException | RuntimeException e) {
      return false; // e.g. an EC key on another curve than the certificate's
    }
  }

  private static String keyName(String algorithm) {
    return algorithm.equals("EC") ? "an EC key" : algorithm.equals("RSA") ? "an RSA key" : "a " + algorithm + " key";
  }

  private static String message(Throwable e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der) + "\n-----END " + type + "-----\n";
  }

  private static TetherException invalid(String message) {
    return new TetherException(ErrorCode.INVALID_PARAMETER, message);
  }

  /** The client's certificate followed by the CA certificates given with it. */
  public List<X509Certificate> chain() {
    return chain;
  }

  PrivateKey key() {
    return key;
  }

  /** The chain as PEM certificates (what is stored). */
  public String chainPem() {
    return chainPem;
  }

  /** The private key as unencrypted PKCS#8 PEM (what is stored; the store lives in the 0700 home). */
  public String keyPem() {
    return keyPem;
  }

  /** The client certificate's subject, RFC 2253. */
  public String subject() {
    return chain.get(0).getSubjectX500Principal().getName();
  }

  /** Its issuer, RFC 2253. */
  public String issuer() {
    return chain.get(0).getIssuerX500Principal().getName();
  }

  public Instant notBefore() {
    return chain.get(0).getNotBefore().toInstant();
  }

  public Instant notAfter() {
    return chain.get(0).getNotAfter().toInstant();
  }

  /** Whether the certificate has expired at {@code now}. */
  public boolean expired(Instant now) {
    return now.isAfter(notAfter());
  }

  /** Whether the certificate is not valid yet at {@code now}. */
  public boolean notYetValid(Instant now) {
    return now.isBefore(notBefore());
  }

  /** The key's algorithm as TLS names key types ({@code EC}, {@code RSA}, ...). */
  String keyType() {
    return key.getAlgorithm();
  }

  /** The certificate in words, for messages: subject, issuer and validity; never the key. */
  public String describe() {
    Instant now = Instant.now();
    return subject() + " (issued by " + issuer() + ", "
        + (expired(now) ? "expired at " + notAfter() : notYetValid(now) ? "not valid before " + notBefore()
            : "valid until " + notAfter()) + ")";
  }

  /** Equal when the same chain and key, so that an unchanged setting is recognised. */
  @Override
  public boolean equals(Object o) {
    return o instanceof ClientCertificate c && c.chainPem.equals(chainPem) && c.keyPem.equals(keyPem);
  }

  @Override
  public int hashCode() {
    return chainPem.hashCode();
  }

  @Override
  public String toString() {
    return "client certificate " + subject();
  }
}
