package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliDaemonCommandsTest {
  @TempDir Path tmp;

  @Test
  void startStatusStopRoundTrip() {
    Path home = tmp.resolve("home");
    Cli.Result notRunning = Cli.run(home, "daemon", "status", "--json");
    assertThat(notRunning.exitCode()).as(notRunning.toString()).isEqualTo(3);
    assertThat(Json.parse(notRunning.out()).path("running").asBoolean()).isFalse();

    Cli.Result start = Cli.run(home, "daemon", "start");
    assertThat(start.exitCode()).as(start.toString()).isZero();
    assertThat(start.out()).contains("tetherd started");
    try {
      JsonNode status = Json.parse(Cli.run(home, "daemon", "status", "--json").out());
      assertThat(status.path("running").asBoolean()).isTrue();
      assertThat(status.path("home").asText()).isEqualTo(home.toString());
      long pid = status.path("pid").asLong();
      assertThat(ProcessHandle.of(pid)).isPresent();
      assertThat(status.path("version").asText()).isNotBlank();

      Cli.Result again = Cli.run(home, "daemon", "start");
      assertThat(again.out()).contains("already running").contains(Long.toString(pid));

      Cli.Result stop = Cli.run(home, "daemon", "stop");
      assertThat(stop.exitCode()).as(stop.toString()).isZero();
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    } finally {
      Cli.run(home, "daemon", "stop");
    }
    assertThat(Cli.run(home, "daemon", "status").out()).contains("not running");
  }

  @Test
  void relaySetWarnsOfAPasswordInTheClearAndOfAPasswordFileOthersCanRead() throws Exception {
    Path home = tmp.resolve("relay");
    Path open = tmp.resolve("open-password");
    java.nio.file.Files.writeString(open, "secret\n");
    java.nio.file.Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    java.util.Map<String, String> noDaemon = java.util.Map.of("TETHER_NO_AUTOSTART", "1");
    // the warnings come before tetherd is asked (here it is not running: exit 3)
    Cli.Result plain = Cli.run(home, noDaemon, "relay", "set", "mqtt://broker.example:1883", "--username", "u",
        "--password-file", open.toString());
    assertThat(plain.exitCode()).as(plain.toString()).isEqualTo(3);
    assertThat(plain.err()).contains("password reaches the broker unencrypted").contains("chmod 600 " + open)
        .doesNotContain("secret");
    java.nio.file.Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    Cli.Result tls = Cli.run(home, noDaemon, "relay", "set", "mqtts://broker.example", "--username", "u",
        "--password-file", open.toString());
    assertThat(tls.exitCode()).as(tls.toString()).isEqualTo(3);
    assertThat(tls.err()).doesNotContain("warning");
  }

  @Test
  void aDaemonManagedElsewhereIsNotStartedByClients() {
    Path home = tmp.resolve("managed");
    Cli.Result refused = Cli.run(home, java.util.Map.of("TETHER_NO_AUTOSTART", "1"), "peers");
    assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(3);
    assertThat(refused.err()).contains("tetherd is not running").contains("TETHER_NO_AUTOSTART");
    assertThat(Cli.run(home, "daemon", "status").out()).contains("not running");
    try {
      // without it, the same command starts the daemon itself
      Cli.Result started = Cli.run(home, java.util.Map.of("TETHER_NO_AUTOSTART", "0"), "peers");
      assertThat(started.exitCode()).as(started.toString()).isZero();
      assertThat(Json.parse(Cli.run(home, "daemon", "status", "--json").out()).path("running").asBoolean()).isTrue();
    } finally {
      Cli.run(home, "daemon", "stop");
    }
  }

  @Test
  void tetherHomeEnvironmentWorksLikeTheOption() {
    Path home = tmp.resolve("envhome");
    Cli.Result r = Cli.run(null, java.util.Map.of("TETHER_HOME", home.toString()), "daemon", "status", "--json");
    assertThat(Json.parse(r.out()).path("home").asText()).isEqualTo(home.toString());
  }

  @Test
  void versionAndCompletion() {
    assertThat(Cli.run(null, "--version").out()).startsWith("tether ");
    Cli.Result completion = Cli.run(null, "completion");
    assertThat(completion.exitCode()).isZero();
    assertThat(completion.out()).contains("complete").contains("daemon");
  }

  @Test
  void installWritesAUnitWhoseCommandRunsTheDaemonAndEnablesNothing() throws Exception {
    Path home = tmp.resolve("home");
    Path units = tmp.resolve("units");
    Cli.Result r = Cli.run(home, "daemon", "install", "--unit-dir", units.toString());
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).contains("systemctl --user daemon-reload && systemctl --user enable --now tetherd.service");
    String unit = Files.readString(units.resolve("tetherd.service"));
    assertThat(unit).contains("[Service]").contains("WantedBy=default.target").contains("--home " + home);
    assertThat(Files.list(units).count()).as("no symlinks: nothing enabled").isEqualTo(1);

    Matcher m = Pattern.compile("(?m)^ExecStart=(.*)$").matcher(unit);
    assertThat(m.find()).isTrue();
    List<String> cmd = new ArrayList<>();
    Matcher word = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"|(\\S+)").matcher(m.group(1));
    while (word.find()) {
      cmd.add(word.group(1) != null ? word.group(1).replace("\\\"", "\"").replace("\\\\", "\\") : word.group(2));
    }
    Process daemon = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(tmp.resolve("unit-daemon.out").toFile()).start();
    try {
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() ->
          Json.parse(Cli.run(home, "daemon", "status", "--json").out()).path("pid").asLong() == daemon.pid());
    } finally {
      daemon.destroy();
      daemon.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
