package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import static org.awaitility.Awaitility.await;

import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.TestHttpServer;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What docs/CLI.md promises, followed literally with real processes. */
class CliJourneyTest {
  @TempDir Path tmp;

  @Test
  void theDescriptionOfADownloadIsShownByTetherTransfers() throws Exception {
    Path home = tmp.resolve("home");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      server.file("/forecast.json", 2048, 7);
      Cli.Result r = Cli.run(home, "download", server.url("/forecast.json").toString(), "-o", tmp.resolve("f.json").toString(),
          "--description", "hourly forecast");
      assertThat(r.exitCode()).as(r.toString()).isZero();
      Cli.Result list = Cli.run(home, "transfers");
      assertThat(list.out()).as(list.toString()).contains("description hourly forecast");
    }
  }

  /**
   * {@code ./tether} runs from a per-build copy of the checkout's jars ({@code tether-cli/target/run/BUILD/}) and keeps
   * only the three newest: the unit {@code daemon install} writes must not name that copy, or it stops starting
   * tetherd a few builds later.
   */
  @Test
  void theUnitDaemonInstallWritesStillStartsTetherdAfterTheBuildItWasWrittenFromIsGone() throws Exception {
    Path home = tmp.resolve("home");
    Path units = tmp.resolve("units");
    Path run = tmp.resolve("checkout/tether-cli/target/run/1795367474");
    Files.createDirectories(run);
    List<String> cp = new ArrayList<>();
    boolean copied = false;
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(entry);
      if (entry.endsWith(".jar") && entry.contains("/target/") && !entry.contains("/.m2/")) {
        cp.add(Files.copy(p, run.resolve(p.getFileName())).toString());
        copied = true;
      } else {
        cp.add(entry);
      }
    }
    assertThat(copied).as("the modules' jars on the test class path").isTrue();
    List<String> cli = new ArrayList<>(List.of(JavaProcesses.java(), "-cp", String.join(File.pathSeparator, cp),
        "dev.tether.cli.Main", "--home", home.toString(), "daemon", "install", "--unit-dir", units.toString()));
    Process install = new ProcessBuilder(cli).redirectErrorStream(true).start();
    String said = new String(install.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(install.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(install.exitValue()).as(said).isZero();

    // three builds later ./tether has removed that copy
    try (Stream<Path> files = Files.walk(run)) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
    String unit = Files.readString(units.resolve("tetherd.service"));
    Matcher m = Pattern.compile("(?m)^ExecStart=(.*)$").matcher(unit);
    assertThat(m.find()).isTrue();
    List<String> cmd = new ArrayList<>();
    Matcher word = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"|(\\S+)").matcher(m.group(1));
    while (word.find()) {
      cmd.add(word.group(1) != null ? word.group(1).replace("\\\"", "\"").replace("\\\\", "\\") : word.group(2));
    }
    Process daemon = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("unit-daemon.out").toFile()).start();
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> !daemon.isAlive()
          || Json.parse(Cli.run(home, "daemon", "status", "--json").out()).path("pid").asLong() == daemon.pid());
      assertThat(daemon.isAlive()).as(Files.readString(tmp.resolve("unit-daemon.out"))).isTrue();
    } finally {
      daemon.destroy();
      daemon.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
