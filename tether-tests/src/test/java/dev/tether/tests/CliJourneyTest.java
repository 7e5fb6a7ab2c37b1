package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.TestHttpServer;
import java.nio.file.Path;
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
}
