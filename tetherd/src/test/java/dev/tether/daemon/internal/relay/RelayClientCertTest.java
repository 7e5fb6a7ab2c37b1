package dev.tether.daemon.internal.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import io.netty.handler.ssl.ClientAuth;
import java.io.StringWriter;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMEncryptorBuilder;
import org.bouncycastle.operator.OutputEncryptor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay's MQTT client logging in with an X.509 client certificate, against a real Moquette broker whose TLS port
 * requires one issued by the fleet's device CA (as AWS IoT Core, or Mosquitto with {@code require_certificate true},
 * do): the right certificate and key connect and carry messages; no certificate, and one from another CA, are refused
 * in words that say what to change; a certificate combines with a user name and password; keys and certificates are checked when set (PKCS#8 and the traditional EC and RSA
 * forms read, an encrypted key, a key of another certificate, files that are not PEM refused).
 */
class RelayClientCertTest {
  @TempDir static Path tmp;
  static TestCa serverCa;
  static TestCa deviceCa;
  static TestCa otherCa;
  static EmbeddedBroker broker;
  final TestClients clients = new TestClients("tether-cert-");

  @BeforeAll
  static void startBroker() throws Exception {
    serverCa = new TestCa("Tether Test Broker CA");
    deviceCa = new TestCa("Tether Test Device CA");
    otherCa = new TestCa("Some Other CA");
    broker = EmbeddedBroker.withClientAuth(tmp.resolve("broker"), serverCa.issue("broker", "localhost"), serverCa, deviceCa);
  }

  @AfterAll
  static void stopBroker() {
    if (broker != null) {
      broker.close();
    }
  }

  @AfterEach
  void closeClients() {
    clients.close();
  }

  String uri() {
    return "mqtts://localhost:" + broker.tlsPort();
  }

  RelayBroker withCert(TestCa.Issued cert, String keyPem) throws Exception {
    return RelayBroker.parse(uri(), null, null, serverCa.pem(), TestCa.pem(cert.cert()), keyPem);
  }

  /**
   * The key in the traditional OpenSSL form ({@code EC PRIVATE KEY} with its curve and public key, as {@code openssl ec}
   * writes it, or {@code RSA PRIVATE KEY}): Bouncy Castle's own key encodes the curve inside, the JDK's does not.
   */
  static String traditionalPem(KeyPair k) throws Exception {
    PrivateKey key = k.getPrivate().getAlgorithm().equals("EC")
        ? KeyFactory.getInstance("EC", new BouncyCastleProvider())
            .generatePrivate(new PKCS8EncodedKeySpec(k.getPrivate().getEncoded()))
        : k.getPrivate();
    StringWriter w = new StringWriter();
    try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(key);
    }
    return w.toString();
  }

  @Test
  void theRightClientCertificateLogsInAndCarriesMessages() throws Exception {
    TestCa.Issued device = deviceCa.issueClient("device-1");
    TestClients.Recorder r = new TestClients.Recorder();
    // the certificate's chain (with its CA) and a traditional EC key in one file, given for both
    String both = TestCa.pem(device.cert()) + deviceCa.pem() + traditionalPem(device.key());
    RelayBroker b = RelayBroker.parse(uri(), null, null, serverCa.pem(), both, both);
    assertThat(b.clientCert().chain()).hasSize(2);
    MqttClient c = clients.start(b, "t/cert", r);
    TestClients.assertConnectsAndCarriesMessages(c, r, "t/cert");
  }

  @Test
  void noClientCertificateIsRefusedSayingToGiveOne() throws Exception {
    assertThat(clients.refusal(RelayBroker.parse(uri(), null, null, serverCa.pem())))
        .contains("the broker asked for a client certificate").contains("--cert-file CERT.pem --key-file KEY.pem");
  }

  @Test
  void aClientCertificateFromAnotherCaOrExpiredIsRefusedSayingWhatToChange() throws Exception {
    TestCa.Issued stranger = otherCa.issueClient("stranger");
    assertThat(clients.refusal(withCert(stranger, TestCa.pkcs8Pem(stranger.key().getPrivate()))))
        .contains("the broker did not accept the client certificate CN=stranger (issued by CN=Some Other CA")
        .contains("the broker said it trusts: CN=Tether Test Device CA")
        .contains("--cert-file CERT.pem --key-file KEY.pem");
    KeyPair k = TestCa.ecKey();
    Instant now = Instant.now();
    TestCa.Issued expired = deviceCa.issueClient("expired", k, now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)));
    assertThat(clients.refusal(withCert(expired, TestCa.pkcs8Pem(k.getPrivate()))))
        .contains("did not accept the client certificate CN=expired").contains("expired at");
  }

  @Test
  void aClientCertificateCombinesWithAUserNameAndPassword() throws Exception {
    // a broker that asks for a client certificate but does not require one, and requires a user name and password
    try (EmbeddedBroker both = EmbeddedBroker.withClientAuth(tmp.resolve("both"), serverCa.issue("broker", "localhost"),
        serverCa, deviceCa, ClientAuth.OPTIONAL, Map.of("fleet", "pw"))) {
      String uri = "mqtts://localhost:" + both.tlsPort();
      TestCa.Issued device = deviceCa.issueClient("device-4");
      String key = TestCa.pkcs8Pem(device.key().getPrivate());
      MqttClient c = clients.start(RelayBroker.parse(uri, "fleet", "pw", serverCa.pem(), TestCa.pem(device.cert()), key), "t/both",
          new TestClients.Recorder());
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(c.isConnected()).as("%s", c.lastError()).isTrue());
      assertThat(clients.refusal(RelayBroker.parse(uri, "fleet", "wrong", serverCa.pem(), TestCa.pem(device.cert()), key)))
          .contains("CONNACK 4, bad user name or password").doesNotContain("asked for a client certificate");
      // without a certificate or credentials, the refusal also says the broker asked for a certificate
      assertThat(clients.refusal(RelayBroker.parse(uri, null, null, serverCa.pem())))
          .containsPattern("CONNACK [45]").contains("the broker also asked for a client certificate")
          .contains("--cert-file CERT.pem --key-file KEY.pem");
    }
  }

  @Test
  void keysAndCertificatesAreCheckedWhenSet() throws Exception {
    TestCa.Issued device = deviceCa.issueClient("device-2");
    String cert = TestCa.pem(device.cert());
    String pkcs8 = TestCa.pkcs8Pem(device.key().getPrivate());

    // PKCS#8 and the traditional EC form are read and stored as PKCS#8 PEM; the chain as PEM certificates
    ClientCertificate fromPkcs8 = ClientCertificate.parse(cert, pkcs8);
    ClientCertificate fromTraditional = ClientCertificate.parse("# device 2\n" + cert, traditionalPem(device.key()));
    assertThat(traditionalPem(device.key())).contains("-----BEGIN EC PRIVATE KEY-----");
    assertThat(fromTraditional.keyPem()).startsWith("-----BEGIN PRIVATE KEY-----"); // PKCS#8 is what is stored
    assertThat(ClientCertificate.parse(cert, fromTraditional.keyPem()).keyPem()).isEqualTo(fromTraditional.keyPem());
    assertThat(fromPkcs8.keyPem()).isEqualTo(pkcs8);
    assertThat(fromPkcs8.chainPem()).isEqualTo(cert);
    assertThat(fromPkcs8.subject()).isEqualTo("CN=device-2");
    assertThat(fromPkcs8.issuer()).isEqualTo("CN=Tether Test Device CA");
    assertThat(fromPkcs8.expired(Instant.now())).isFalse();
    // the traditional RSA form
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    KeyPair rsa = g.generateKeyPair();
    TestCa.Issued rsaDevice = deviceCa.issueClient("rsa-device", rsa, Instant.now().minusSeconds(60),
        Instant.now().plus(Duration.ofDays(1)));
    assertThat(traditionalPem(rsa)).contains("-----BEGIN RSA PRIVATE KEY-----");
    assertThat(ClientCertificate.parse(TestCa.pem(rsaDevice.cert()), traditionalPem(rsa)).keyPem())
        .startsWith("-----BEGIN PRIVATE KEY-----");
    // an expired certificate is accepted (the CLI warns), and says so
    KeyPair k = TestCa.ecKey();
    ClientCertificate expired = ClientCertificate.parse(TestCa.pem(deviceCa.issueClient("old", k,
        Instant.now().minus(Duration.ofDays(9)), Instant.now().minus(Duration.ofDays(2))).cert()), TestCa.pkcs8Pem(k.getPrivate()));
    assertThat(expired.expired(Instant.now())).isTrue();
    assertThat(expired.describe()).contains("expired at");

    // the broker setting names the certificate, never the key
    RelayBroker b = RelayBroker.parse(uri(), "u", "secret", null, cert, pkcs8);
    String keyBody = pkcs8.lines().skip(1).findFirst().orElseThrow();
    assertThat(b.toString()).contains("client certificate CN=device-2").doesNotContain(keyBody).doesNotContain("secret");
    assertThat(fromPkcs8.toString()).doesNotContain(keyBody);

    TestCa.Issued other = deviceCa.issueClient("device-3");
    String encryptedTraditional;
    StringWriter w = new StringWriter();
    try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(device.key().getPrivate(), new JcePEMEncryptorBuilder("AES-128-CBC")
          .setProvider(new BouncyCastleProvider()).build("pass".toCharArray()));
    }
    encryptedTraditional = w.toString();
    OutputEncryptor enc = new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC)
        .setProvider(new BouncyCastleProvider()).setPassword("pass".toCharArray()).build();
    w = new StringWriter();
    try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(new JcaPKCS8Generator(device.key().getPrivate(), enc));
    }
    String encryptedPkcs8 = w.toString();
    assertThat(encryptedPkcs8).contains("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    String der = Base64.getMimeEncoder().encodeToString(device.key().getPrivate().getEncoded());

    Object[][] bad = {
        {uri(), cert, TestCa.pkcs8Pem(other.key().getPrivate()), "does not match the client certificate"},
        {uri(), cert, TestCa.pkcs8Pem(rsa.getPrivate()), "the key is an RSA key, the certificate's is an EC key"},
        {uri(), deviceCa.pem() + cert, pkcs8, "put the client's own certificate first"},
        {uri(), cert, encryptedTraditional, "decrypt it with openssl"},
        {uri(), cert, encryptedPkcs8, "decrypt it with openssl"},
        {uri(), cert, der, "holds no private key"},
        {uri(), cert, cert, "holds no private key"},
        {uri(), pkcs8, pkcs8, "holds no certificate"},
        {uri(), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", pkcs8, "not valid PEM"},
        {uri(), cert, null, "needs its private key (--key-file)"},
        {uri(), null, pkcs8, "needs its client certificate (--cert-file)"},
        {"mqtt://localhost:1883", cert, pkcs8, "use mqtts://"},
    };
    for (Object[] c : bad) {
      assertThatThrownBy(() -> RelayBroker.parse((String) c[0], null, null, null, (String) c[1], (String) c[2]))
          .as("%s", c[3]).isInstanceOf(TetherException.class)
          .hasMessageContaining((String) c[3])
          .satisfies(e -> assertThat(((TetherException) e).code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(keyBody));
    }
  }
}
