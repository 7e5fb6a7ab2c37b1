package dev.tether.tests.connectivity;

import static dev.tether.tests.connectivity.RelayTest.cli;
import static dev.tether.tests.connectivity.RelayTest.linkedVia;
import static dev.tether.tests.connectivity.RelayTest.relayStatus;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.MqttBroker;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import dev.tether.tests.support.TestCa;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay through a production-like broker: a real Moquette that takes only TLS (its certificate issued for
 * "localhost" by a CA made in the test with Bouncy Castle) and only user "fleet" with its password. Bad settings are
 * refused with exit code 4 and leave the stored one as it was; a wrong password and a CA that did not sign the broker's
 * certificate are refused and {@code tether relay status} says so and when; with the right CA file and the password
 * from a file on one device and from TETHER_RELAY_PASSWORD on the other, two real daemons whose direct path is blocked
 * relay user infos exactly once and in order, the broker hop is encrypted (not even topic names show on the wire), and
 * the setting with its credentials and CA survives a kill -9. Through a broker that logs devices in with X.509 client
 * certificates instead, the same holds with {@code --cert-file}/{@code --key-file}, and the key never shows.
 */
class RelayTlsTest {
  static final String APP = "com.example.relayed.tls";
  static final String USER = "fleet";
  static final String PASSWORD = "s3cret-relay-passw0rd";
  static final String WRONG = "not-the-password";
  static final int N = 200;

  @TempDir Path tmp;

  /** Runs the CLI in this JVM, expecting it to fail: its exit code and what it printed on stderr. */
  static Cli.Result failing(DaemonProcess d, String... args) {
    List<String> all = new ArrayList<>(List.of("--home", d.home().toString()));
    all.addAll(List.of(args));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream old = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = dev.tether.cli.Main.run(all.toArray(String[]::new));
    } finally {
      System.setErr(old);
    }
    return new Cli.Result(code, "", err.toString(StandardCharsets.UTF_8));
  }

  /** Sends {@code n} user infos from the primary's app to the companion's receiver; each arrives once, in order. */
  static void relayUserInfos(PairedDaemons d, Path out, int n) throws Exception {
    ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out);
    try (Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
      ConnectivitySession session = sender.connectivity(new ConnectivityDelegate() {});
      session.activate().get(30, TimeUnit.SECONDS);
      for (int i = 0; i < n; i++) {
        session.transferUserInfo(Map.of("n", (long) i, "text", RelayTest.MARKER + "-" + i));
      }
      await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
          .until(() -> ReceiverProcess.lines(out).size() >= n);
      await().atMost(Duration.ofSeconds(30)).until(() -> session.outstandingUserInfoTransfers().isEmpty());
    }
    receiver.close();
    List<Long> got = new ArrayList<>();
    for (String line : ReceiverProcess.lines(out)) {
      got.add(Json.parse(line).path("payload").path("n").asLong());
    }
    List<Long> inOrder = new ArrayList<>();
    for (long i = 0; i < n; i++) {
      inOrder.add(i);
    }
    assertThat(got).as("every user info exactly once, in order").isEqualTo(inOrder);
    assertThat(linkedVia(d.companion, "relay")).isTrue();
  }

  @Test
  void userInfoRelaysThroughAnMqttsBrokerWithCredentialsAndWrongSettingsAreRefusedInWords() throws Exception {
    TestCa ca = new TestCa("Tether Fleet CA");
    TestCa otherCa = new TestCa("Some Other CA");
    Path caFile = Files.writeString(tmp.resolve("fleet-ca.pem"), "# the fleet's broker CA\n" + ca.pem());
    Path otherCaFile = Files.writeString(tmp.resolve("other-ca.pem"), otherCa.pem());
    Path notPem = Files.writeString(tmp.resolve("not-a-cert.pem"), "# no certificate in here\n");
    Path passwordFile = Files.writeString(tmp.resolve("password"), PASSWORD + "\nthe second line is not read\n");
    Path wrongFile = Files.writeString(tmp.resolve("wrong-password"), WRONG + "\n");
    String missing = tmp.resolve("missing").toString();

    try (PairedDaemons d = PairedDaemons.start(tmp, "-Dtether.relay.directProbeMillis=3000");
         MqttBroker broker = MqttBroker.withTls(tmp.resolve("broker"), ca.issue("broker", "localhost"), ca,
             Map.of(USER, PASSWORD))) {
      String uri = broker.uri();
      broker.proxy.record();

      // bad input: a typed error (exit code 4) that names the problem, and nothing stored
      String[][] bad = {
          {"ftp://localhost:1"}, {"mqtts://localhost:70000"},
          {uri, "--username", USER, "--password-file", missing}, {uri, "--password-file", passwordFile.toString()},
          {uri, "--ca-file", missing}, {uri, "--ca-file", notPem.toString()},
          {uri.replace("mqtts:", "mqtt:"), "--ca-file", caFile.toString()},
      };
      for (String[] args : bad) {
        List<String> all = new ArrayList<>(List.of("relay", "set"));
        all.addAll(List.of(args));
        Cli.Result r = failing(d.primary, all.toArray(String[]::new));
        assertThat(r.exitCode()).as("%s", r).isEqualTo(4);
        assertThat(r.err()).as("%s", all).contains("INVALID_PARAMETER");
      }
      assertThat(failing(d.primary, "relay", "set", "mqtts://localhost:70000").err()).contains("port 70000");
      assertThat(failing(d.primary, "relay", "set", uri, "--ca-file", notPem.toString()).err()).contains("holds no certificate");
      assertThat(relayStatus(d.primary).path("broker").isNull()).as("nothing stored").isTrue();

      // a wrong password: refused, and relay status says so and when, never showing a password
      cli(d.primary, "relay", "set", uri, "--ca-file", caFile.toString(), "--username", USER, "--password-file",
          wrongFile.toString());
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.primary).hasNonNull("lastError"));
      String json = cli(d.primary, "relay", "status", "--json");
      JsonNode s = Json.parse(json);
      assertThat(s.path("broker").asText()).isEqualTo(uri);
      assertThat(s.path("tls").asBoolean()).isTrue();
      assertThat(s.path("username").asText()).isEqualTo(USER);
      assertThat(s.path("passwordSet").asBoolean()).isTrue();
      assertThat(s.path("customCa").asBoolean()).isTrue();
      assertThat(s.path("connected").asBoolean()).isFalse();
      assertThat(s.path("lastError").asText()).contains("CONNACK 4, bad user name or password").contains("for user fleet");
      assertThat(Instant.parse(s.path("lastErrorAt").asText())).isBefore(Instant.now().plusSeconds(1));
      assertThat(json).doesNotContain(WRONG);
      String human = cli(d.primary, "relay", "status");
      assertThat(human).contains("not connected").contains("user fleet (password set)").contains("CA bundle from --ca-file")
          .contains("last error at ").contains("bad user name or password").doesNotContain(WRONG);
      // bad input now leaves that setting as it was
      assertThat(failing(d.primary, "relay", "set", "mqtt://localhost:0").exitCode()).isEqualTo(4);
      assertThat(relayStatus(d.primary).path("username").asText()).isEqualTo(USER);
      assertThat(relayStatus(d.primary).path("broker").asText()).isEqualTo(uri);

      // a CA that did not sign the broker's certificate: the TLS handshake is refused with what to do
      cli(d.companion, "relay", "set", uri, "--ca-file", otherCaFile.toString(), "--username", USER, "--password-file",
          passwordFile.toString());
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.companion).hasNonNull("lastError"));
      assertThat(relayStatus(d.companion).path("lastError").asText())
          .contains("not trusted by the CA bundle given with --ca-file").contains("--ca-file PEM");
      assertThat(Files.readString(d.primary.home().resolve("logs/tetherd.log"))).contains("bad user name or password");
      assertThat(Files.readString(d.companion.home().resolve("logs/tetherd.log"))).contains("is not trusted");

      // the right settings: the password from TETHER_RELAY_PASSWORD (a real CLI process) and from a file
      Cli.Result set = Cli.run(d.primary.home(), Map.of("TETHER_RELAY_PASSWORD", PASSWORD), "relay", "set", uri,
          "--ca-file", caFile.toString(), "--username", USER, "--json");
      assertThat(set.exitCode()).as("%s", set).isZero();
      assertThat(set.out()).doesNotContain(PASSWORD);
      cli(d.companion, "relay", "set", uri, "--ca-file", caFile.toString(), "--username", USER, "--password-file",
          passwordFile.toString());
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.primary).path("connected").asBoolean()
          && relayStatus(d.companion).path("connected").asBoolean());

      // the direct path goes away: the link runs through the TLS broker
      d.proxy.block(true);
      d.proxy.cut();
      await().atMost(Duration.ofSeconds(60)).until(() -> linkedVia(d.companion, "relay") && linkedVia(d.primary, "relay"));
      relayUserInfos(d, tmp.resolve("received.jsonl"), N);

      // the hop to the broker is TLS: neither the payloads, the topics nor the credentials show on the wire
      String wire = new String(broker.proxy.recorded(), StandardCharsets.ISO_8859_1);
      assertThat(wire.length()).isGreaterThan(N * 100);
      assertThat(wire).doesNotContain(RelayTest.MARKER).doesNotContain("tether/v1/").doesNotContain(PASSWORD)
          .doesNotContain("MQTT");

      // the setting, its credentials and its CA are stored: after kill -9 the daemon connects to the broker again
      d.companion.kill9();
      d.companion.start();
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.companion).path("connected").asBoolean());
      assertThat(relayStatus(d.companion).path("username").asText()).isEqualTo(USER);
      for (DaemonProcess p : List.of(d.primary, d.companion)) {
        assertThat(Files.readString(p.home().resolve("logs/tetherd.log"))).as("the log").doesNotContain(PASSWORD)
            .doesNotContain(WRONG);
      }
    }
  }

  /** A private key file, 0600 like a real one. */
  static Path keyFile(Path file, String pem) throws Exception {
    Files.writeString(file, pem);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return file;
  }

  /** The base64 lines of a PEM body, which must never show anywhere. */
  static List<String> keyLines(String pem) {
    return pem.lines().filter(l -> !l.startsWith("-----")).toList();
  }

  @Test
  void userInfoRelaysThroughABrokerThatLogsDevicesInWithClientCertificates() throws Exception {
    TestCa brokerCa = new TestCa("Fleet Broker CA");
    TestCa deviceCa = new TestCa("Fleet Device CA");
    TestCa otherCa = new TestCa("Some Other CA");
    TestCa.Issued primaryCert = deviceCa.issueClient("primary-device");
    TestCa.Issued companionCert = deviceCa.issueClient("companion-device");
    TestCa.Issued stranger = otherCa.issueClient("stranger");
    KeyPair oldKey = TestCa.ecKey();
    TestCa.Issued expired = deviceCa.issueClient("expired-device", oldKey, Instant.now().minus(Duration.ofDays(30)),
        Instant.now().minus(Duration.ofDays(1)));
    Path caFile = Files.writeString(tmp.resolve("broker-ca.pem"), brokerCa.pem());
    Path primaryCertFile = Files.writeString(tmp.resolve("primary.crt"), TestCa.pem(primaryCert.cert()) + deviceCa.pem());
    String primaryKeyPem = TestCa.pkcs8Pem(primaryCert.key().getPrivate());
    Path primaryKeyFile = keyFile(tmp.resolve("primary.key"), primaryKeyPem);
    Path companionCertFile = Files.writeString(tmp.resolve("companion.crt"), TestCa.pem(companionCert.cert()));
    String companionKeyPem = TestCa.pkcs8Pem(companionCert.key().getPrivate());
    Path companionKeyFile = keyFile(tmp.resolve("companion.key"), companionKeyPem);
    Path strangerCertFile = Files.writeString(tmp.resolve("stranger.crt"), TestCa.pem(stranger.cert()));
    Path strangerKeyFile = keyFile(tmp.resolve("stranger.key"), TestCa.pkcs8Pem(stranger.key().getPrivate()));
    Path expiredCertFile = Files.writeString(tmp.resolve("expired.crt"), TestCa.pem(expired.cert()));
    Path expiredKeyFile = keyFile(tmp.resolve("expired.key"), TestCa.pkcs8Pem(oldKey.getPrivate()));
    Path notPem = Files.writeString(tmp.resolve("not-pem.key"), "just some text\n");
    List<String> secrets = new ArrayList<>(keyLines(primaryKeyPem));
    secrets.addAll(keyLines(companionKeyPem));

    try (PairedDaemons d = PairedDaemons.start(tmp, "-Dtether.relay.directProbeMillis=3000");
         MqttBroker broker = MqttBroker.withClientAuth(tmp.resolve("broker"), brokerCa.issue("broker", "localhost"),
             brokerCa, deviceCa)) {
      String uri = broker.uri();
      String ca = caFile.toString();

      // bad input: exit code 4, words that name the problem, nothing stored
      Object[][] bad = {
          {new String[] {uri, "--cert-file", primaryCertFile.toString()}, "--cert-file needs --key-file"},
          {new String[] {uri, "--key-file", primaryKeyFile.toString()}, "--key-file needs --cert-file"},
          {new String[] {uri.replace("mqtts:", "mqtt:"), "--cert-file", primaryCertFile.toString(), "--key-file",
              primaryKeyFile.toString()}, "use mqtts://"},
          {new String[] {uri, "--cert-file", tmp.resolve("missing.crt").toString(), "--key-file",
              primaryKeyFile.toString()}, "no such file"},
          {new String[] {uri, "--cert-file", primaryCertFile.toString(), "--key-file", notPem.toString()}, "is not PEM"},
          {new String[] {uri, "--cert-file", primaryCertFile.toString(), "--key-file", companionKeyFile.toString()},
              "does not match the client certificate"},
      };
      for (Object[] c : bad) {
        List<String> all = new ArrayList<>(List.of("relay", "set"));
        all.addAll(List.of((String[]) c[0]));
        Cli.Result r = failing(d.primary, all.toArray(String[]::new));
        assertThat(r.exitCode()).as("%s", r).isEqualTo(4);
        assertThat(r.err()).as("%s", all).contains("INVALID_PARAMETER").contains((String) c[1]);
        assertThat(r.err()).doesNotContain(secrets.get(1));
      }
      assertThat(relayStatus(d.primary).path("broker").isNull()).as("nothing stored").isTrue();

      // no client certificate: the broker ends the handshake, and relay status says to give one
      cli(d.primary, "relay", "set", uri, "--ca-file", ca);
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.primary).hasNonNull("lastError"));
      assertThat(relayStatus(d.primary).path("clientCert").isNull()).isTrue();
      assertThat(cli(d.primary, "relay", "status")).contains("not connected")
          .contains("the broker asked for a client certificate").contains("--cert-file CERT.pem --key-file KEY.pem");
      // one from a CA the broker does not trust: refused, naming the certificate
      cli(d.companion, "relay", "set", uri, "--ca-file", ca, "--cert-file", strangerCertFile.toString(), "--key-file",
          strangerKeyFile.toString());
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.companion).hasNonNull("lastError"));
      assertThat(relayStatus(d.companion).path("lastError").asText())
          .contains("the broker did not accept the client certificate CN=stranger (issued by CN=Some Other CA");
      // an expired one is stored with a warning
      Cli.Result old = failing(d.companion, "relay", "set", uri, "--ca-file", ca, "--cert-file",
          expiredCertFile.toString(), "--key-file", expiredKeyFile.toString());
      assertThat(old.exitCode()).as("%s", old).isZero();
      assertThat(old.err()).contains("warning: the client certificate CN=expired-device is expired since");
      assertThat(relayStatus(d.companion).path("clientCert").path("expired").asBoolean()).isTrue();

      // the right certificates: both connect, and relay status names them (never the key)
      cli(d.primary, "relay", "set", uri, "--ca-file", ca, "--cert-file", primaryCertFile.toString(), "--key-file",
          primaryKeyFile.toString());
      String setOut = cli(d.companion, "relay", "set", uri, "--ca-file", ca, "--cert-file",
          companionCertFile.toString(), "--key-file", companionKeyFile.toString(), "--json");
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.primary).path("connected").asBoolean()
          && relayStatus(d.companion).path("connected").asBoolean());
      JsonNode s = relayStatus(d.primary);
      assertThat(s.path("clientCert").path("subject").asText()).isEqualTo("CN=primary-device");
      assertThat(s.path("clientCert").path("issuer").asText()).isEqualTo("CN=Fleet Device CA");
      assertThat(Instant.parse(s.path("clientCert").path("notAfter").asText())).isAfter(Instant.now());
      assertThat(s.path("clientCert").path("expired").asBoolean()).isFalse();
      assertThat(s.path("passwordSet").asBoolean()).isFalse();
      String human = cli(d.primary, "relay", "status");
      assertThat(human).contains("relay " + uri + "  connected")
          .contains("client certificate CN=primary-device (issued by CN=Fleet Device CA, valid until ");
      // the store holding the key is the owner's only
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(d.companion.home().resolve("tether.db"))))
          .isEqualTo("rw-------");

      // the direct path goes away: user infos go through the broker, once each and in order
      d.proxy.block(true);
      d.proxy.cut();
      await().atMost(Duration.ofSeconds(60)).until(() -> linkedVia(d.companion, "relay") && linkedVia(d.primary, "relay"));
      relayUserInfos(d, tmp.resolve("received-cert.jsonl"), 100);

      // stored: after kill -9 the companion logs in with its certificate again
      d.companion.kill9();
      d.companion.start();
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.companion).path("connected").asBoolean());
      assertThat(relayStatus(d.companion).path("clientCert").path("subject").asText()).isEqualTo("CN=companion-device");
      await().atMost(Duration.ofSeconds(60)).until(() -> linkedVia(d.companion, "relay"));

      // relay set without the flags clears the certificate, as every other part of the setting
      String cleared = cli(d.primary, "relay", "set", uri, "--ca-file", ca, "--json");
      assertThat(Json.parse(cleared).path("clientCert").isNull()).isTrue();
      await().atMost(Duration.ofSeconds(30)).until(() -> relayStatus(d.primary).path("lastError").asText()
          .contains("asked for a client certificate"));

      // the key never shows: not in what the CLI printed, not in relay status, not in either log
      List<String> shown = new ArrayList<>(List.of(setOut, human, cleared, Json.write(relayStatus(d.companion)),
          cli(d.companion, "relay", "status")));
      for (DaemonProcess p : List.of(d.primary, d.companion)) {
        shown.add(Files.readString(p.home().resolve("logs/tetherd.log")));
      }
      for (String text : shown) {
        for (String line : secrets) {
          assertThat(text).doesNotContain(line);
        }
      }
      assertThat(Files.readString(d.companion.home().resolve("logs/tetherd.log")))
          .contains("with the client certificate CN=companion-device");
    }
  }
}
