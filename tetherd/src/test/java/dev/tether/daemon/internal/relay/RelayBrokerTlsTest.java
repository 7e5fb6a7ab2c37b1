package dev.tether.daemon.internal.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay's MQTT client against a real Moquette broker that takes TLS (a certificate for "localhost" from a CA made
 * here with Bouncy Castle) and only user "fleet" with its password: the right CA and credentials connect and carry
 * messages; a wrong password, no credentials, a certificate from another CA or from nobody the JDK trusts, a host name
 * the certificate does not name, and plain MQTT and TLS on each other's ports are refused in words that say what to do.
 */
class RelayBrokerTlsTest {
  static final String USER = "fleet";
  static final String PASSWORD = "correct horse battery staple";

  @TempDir static Path tmp;
  static TestCa ca;
  static TestCa otherCa;
  static EmbeddedBroker broker;
  final TestClients clients = new TestClients("tether-test-");

  @BeforeAll
  static void startBroker() throws Exception {
    ca = new TestCa("Tether Test Fleet CA");
    otherCa = new TestCa("Some Other CA");
    // the certificate names "localhost" only: connecting to 127.0.0.1 is a host name mismatch
    broker = EmbeddedBroker.withTls(tmp.resolve("broker"), ca.issue("broker", "localhost"), ca, Map.of(USER, PASSWORD));
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

  String tls(String host) {
    return "mqtts://" + host + ":" + broker.tlsPort();
  }

  @Test
  void theRightCaAndCredentialsConnectOverTlsAndCarryMessages() throws Exception {
    TestClients.Recorder r = new TestClients.Recorder();
    MqttClient c = clients.start(RelayBroker.parse(tls("localhost"), USER, PASSWORD, ca.pem()), "t/ok", r);
    TestClients.assertConnectsAndCarriesMessages(c, r, "t/ok");
  }

  @Test
  void aWrongPasswordOrNoCredentialsAreRefusedInWordsAPersonCanActOn() throws Exception {
    assertThat(clients.refusal(RelayBroker.parse(tls("localhost"), USER, "wrong", ca.pem())))
        .contains("CONNACK 4, bad user name or password").contains("for user fleet").contains("--password-file");
    assertThat(clients.refusal(RelayBroker.parse(tls("localhost"), "intruder", PASSWORD, ca.pem())))
        .contains("bad user name or password").contains("for user intruder");
    assertThat(clients.refusal(RelayBroker.parse(tls("localhost"), null, null, ca.pem())))
        .containsPattern("CONNACK [45]").contains("--username USER --password-file FILE");
  }

  @Test
  void aCertificateFromAnotherCaOrNotInTheJdksTrustStoreIsRefused() throws Exception {
    assertThat(clients.refusal(RelayBroker.parse(tls("localhost"), USER, PASSWORD, otherCa.pem())))
        .contains("not trusted by the CA bundle given with --ca-file").contains("--ca-file PEM");
    assertThat(clients.refusal(RelayBroker.parse(tls("localhost"), USER, PASSWORD, null)))
        .contains("not trusted by the JDK's default trust store").contains("--ca-file PEM");
  }

  @Test
  void aHostNameTheCertificateDoesNotNameIsRefused() throws Exception {
    assertThat(clients.refusal(RelayBroker.parse(tls("127.0.0.1"), USER, PASSWORD, ca.pem())))
        .contains("host name mismatch").contains("does not name 127.0.0.1");
  }

  @Test
  void plainMqttToTheTlsPortAndTlsToThePlainPortSayWhichToUse() throws Exception {
    assertThat(clients.refusal(RelayBroker.parse("mqtt://localhost:" + broker.tlsPort(), USER, PASSWORD, null)))
        .contains("use mqtts://localhost:" + broker.tlsPort());
    assertThat(clients.refusal(RelayBroker.parse("mqtts://localhost:" + broker.port(), USER, PASSWORD, ca.pem())))
        .contains("use mqtt://localhost:" + broker.port());
  }

  @Test
  void brokerSettingsAreCheckedBeforeAnythingIsStored() throws Exception {
    assertThat(RelayBroker.of("mqtt://broker.example").port()).isEqualTo(1883);
    assertThat(RelayBroker.of("mqtts://broker.example").port()).isEqualTo(8883);
    RelayBroker b = RelayBroker.parse("mqtts://broker.example:8884", "u", "secret", ca.pem() + otherCa.pem());
    assertThat(b.port()).isEqualTo(8884);
    assertThat(b.tls()).isTrue();
    assertThat(RelayBroker.certificates(b.caPem())).hasSize(2);
    assertThat(b.toString()).doesNotContain("secret");
    assertThat(RelayBroker.of("mqtts://[::1]:9000").host()).isEqualTo("::1");
    String pem = ca.pem();
    Object[][] bad = {
        {"tcp://h:1", null, null, null}, {"mqtt://", null, null, null}, {"broker:1883", null, null, null},
        {"mqtt://h:1/path", null, null, null}, {"mqtt://u:p@h:1", null, null, null}, {"mqtt://h:1?x=1", null, null, null},
        {"mqtts://h:70000", null, null, null}, {"mqtts://h:99999999999", null, null, null},
        {"mqtt://h", null, "secret", null},          // a password needs a user name
        {"mqtt://h", null, null, pem},               // a CA bundle is for mqtts://
        {"mqtts://h", null, null, "not a certificate"},
        {"mqtts://h", null, null, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
        {"mqtts://h", null, null, ""},
    };
    for (Object[] c : bad) {
      assertThatThrownBy(() -> RelayBroker.parse((String) c[0], (String) c[1], (String) c[2], (String) c[3]))
          .as("%s", List.of(c[0], String.valueOf(c[3]))).isInstanceOf(TetherException.class)
          .satisfies(e -> assertThat(((TetherException) e).code()).isEqualTo(ErrorCode.INVALID_PARAMETER));
    }
  }
}
