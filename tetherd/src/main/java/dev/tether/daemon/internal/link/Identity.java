package dev.tether.daemon.internal.link;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Immutable once loaded (on the daemon's start thread), read by any thread: this daemon's long-lived identity: an EC P-256 key pair and a self-signed certificate made with Bouncy Castle,
 * kept in {@code HOME/link/} (the private key file is mode 0600). Peers pin the certificate's SHA-256 fingerprint at
 * pairing.
 */
public final class Identity {
  private final PrivateKey key;
  private final X509Certificate certificate;
  private final String fingerprint;

  private Identity(PrivateKey key, X509Certificate certificate) {
    this.key = key;
    this.certificate = certificate;
    this.fingerprint = fingerprint(certificate);
  }

  /** Loads the identity of {@code dir}, creating it on first use. */
  public static Identity loadOrCreate(Path dir) {
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      Path keyFile = dir.resolve("identity.key");
      Path certFile = dir.resolve("identity.crt");
      if (Files.exists(keyFile) && Files.exists(certFile)) {
        PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(keyFile)));
        X509Certificate cert = parse(Files.readAllBytes(certFile));
        return new Identity(key, cert);
      }
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
      KeyPair pair = g.generateKeyPair();
      X509Certificate cert = selfSigned(pair);
      writePrivate(keyFile, pair.getPrivate().getEncoded());
      writePrivate(certFile, cert.getEncoded());
      return new Identity(pair.getPrivate(), cert);
    } catch (IOException | GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException e) {
      throw new TetherException(ErrorCode.GENERIC, "cannot load or create the device identity in " + dir + ": " + e, e);
    }
  }

  private static X509Certificate selfSigned(KeyPair pair) throws GeneralSecurityException, org.bouncycastle.operator.OperatorCreationException, IOException {
    byte[] serial = new byte[16];
    new SecureRandom().nextBytes(serial);
    X500Name name = new X500Name("CN=tetherd " + HexFormat.of().formatHex(serial, 0, 6));
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(1, serial),
        Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(365L * 30))), name, pair.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    X509CertificateHolder h = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate()));
    return new JcaX509CertificateConverter().getCertificate(h);
  }

  private static void writePrivate(Path file, byte[] bytes) throws IOException {
    Path part = file.resolveSibling(file.getFileName() + ".part");
    Files.deleteIfExists(part);
    Files.createFile(part, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try (FileChannel ch = FileChannel.open(part, StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(bytes));
      ch.force(true);
    }
    Files.move(part, file, StandardCopyOption.ATOMIC_MOVE);
    try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  public static X509Certificate parse(byte[] der) throws GeneralSecurityException {
    return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
  }

  /** The SHA-256 of the certificate's DER encoding, lower-case hex. */
  public static String fingerprint(X509Certificate cert) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public PrivateKey key() {
    return key;
  }

  public X509Certificate certificate() {
    return certificate;
  }

  public String fingerprint() {
    return fingerprint;
  }
}
