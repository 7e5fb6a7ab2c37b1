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
 * the setting with its credentials and CA survives a kill -9.
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
      Path out = tmp.resolve("received.jsonl");
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out);
      try (Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession session = sender.connectivity(new ConnectivityDelegate() {});
        session.activate().get(30, TimeUnit.SECONDS);
        for (int i = 0; i < N; i++) {
          session.transferUserInfo(Map.of("n", (long) i, "text", RelayTest.MARKER + "-" + i));
        }
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
            .until(() -> ReceiverProcess.lines(out).size() >= N);
        await().atMost(Duration.ofSeconds(30)).until(() -> session.outstandingUserInfoTransfers().isEmpty());
      }
      receiver.close();
      List<Long> got = new ArrayList<>();
      for (String line : ReceiverProcess.lines(out)) {
        got.add(Json.parse(line).path("payload").path("n").asLong());
      }
      List<Long> inOrder = new ArrayList<>();
      for (long i = 0; i < N; i++) {
        inOrder.add(i);
      }
      assertThat(got).as("every user info exactly once, in order").isEqualTo(inOrder);
      assertThat(linkedVia(d.companion, "relay")).isTrue();

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
}
