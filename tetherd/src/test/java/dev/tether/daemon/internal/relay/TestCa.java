package dev.tether.daemon.internal.relay;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A certificate authority made in the test with Bouncy Castle (EC P-256), issuing TLS server and client certificates. */
final class TestCa {
  final KeyPair key;
  final X509Certificate cert;

  /** A server certificate and its key. */
  record Issued(KeyPair key, X509Certificate cert) {}

  TestCa(String name) throws GeneralSecurityException, OperatorCreationException {
    key = ecKey();
    X500Name subject = new X500Name("CN=" + name);
    X509v3CertificateBuilder b = builder(subject, subject, key);
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    cert = sign(b, key);
  }

  /** A server certificate for {@code cn} naming {@code names} (DNS names, or IP addresses when they are digits). */
  Issued issue(String cn, String... names) throws GeneralSecurityException, OperatorCreationException {
    KeyPair k = ecKey();
    X509v3CertificateBuilder b = builder(new X500Name(cert.getSubjectX500Principal().getName()), new X500Name("CN=" + cn), k);
    GeneralName[] sans = new GeneralName[names.length];
    for (int i = 0; i < names.length; i++) {
      sans[i] = new GeneralName(names[i].matches("[0-9.]+") ? GeneralName.iPAddress : GeneralName.dNSName, names[i]);
    }
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    return new Issued(k, sign(b, key));
  }

  /** A TLS client certificate for {@code cn} (extended key usage clientAuth) with a fresh EC key, valid now. */
  Issued issueClient(String cn) throws GeneralSecurityException, OperatorCreationException {
    Instant now = Instant.now();
    return issueClient(cn, ecKey(), now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(2)));
  }

  /** A TLS client certificate for {@code cn} and {@code k}'s public key, valid from {@code notBefore} to {@code notAfter}. */
  Issued issueClient(String cn, KeyPair k, Instant notBefore, Instant notAfter)
      throws GeneralSecurityException, OperatorCreationException {
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(cert.getSubjectX500Principal().getName()),
        new BigInteger(64, new SecureRandom()), Date.from(notBefore), Date.from(notAfter), new X500Name("CN=" + cn),
        k.getPublic());
    try {
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth));
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    return new Issued(k, sign(b, key));
  }

  /** A private key as unencrypted PKCS#8 PEM ({@code -----BEGIN PRIVATE KEY-----}). */
  static String pkcs8Pem(java.security.PrivateKey k) {
    return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(k.getEncoded())
        + "\n-----END PRIVATE KEY-----\n";
  }

  /** A fresh EC P-256 key pair. */
  static KeyPair ecKey() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  /** This CA's certificate as PEM text. */
  String pem() throws GeneralSecurityException {
    return pem(cert);
  }

  static String pem(X509Certificate c) throws GeneralSecurityException {
    return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(c.getEncoded())
        + "\n-----END CERTIFICATE-----\n";
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair k) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(issuer, new BigInteger(64, new SecureRandom()),
        Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(2))), subject, k.getPublic());
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer)
      throws GeneralSecurityException, OperatorCreationException {
    byte[] der;
    try {
      der = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())).getEncoded();
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
  }
}
