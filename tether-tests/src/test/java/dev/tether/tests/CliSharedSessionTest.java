package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.TestHttpServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code tether download} and {@code upload} runs in the CLI's one session ({@code cli}), so the events of
 * other transfers in it reach each command too: one detached earlier whose events nobody took yet, or one another
 * terminal is following. A command prints and counts only the transfers it created.
 */
class CliSharedSessionTest {
  @TempDir Path tmp;

  @Test
  void aDownloadSummarySaysOnlyItsOwnBytesAfterADetachedDownloadFinishedInTheSameSession() throws Exception {
    Path home = tmp.resolve("home");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      server.file("/big.bin", 3 * 1024 * 1024, 1);
      server.file("/small.bin", 100, 2);
      Cli.Result detached = Cli.run(home, "download", server.url("/big.bin").toString(), "-o", tmp.resolve("big.bin").toString(), "--detach");
      assertThat(detached.exitCode()).as(detached.toString()).isZero();
      await().atMost(Duration.ofSeconds(30)).until(() -> tmp.resolve("big.bin").toFile().length() == 3 * 1024 * 1024);

      Cli.Result small = Cli.run(home, "download", server.url("/small.bin").toString(), "-o", tmp.resolve("small.bin").toString());
      assertThat(small.exitCode()).as(small.toString()).isZero();
      assertThat(small.out()).as(small.toString()).contains("1 of 1 transfer(s) finished, 100 B in ");
    }
  }

  @Test
  void aJsonDownloadPrintsNoLinesOfAnotherTerminalsDownload() throws Exception {
    Path home = tmp.resolve("home");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource other = server.file("/other.bin", 4 * 1024 * 1024, 3).throttle(512 * 1024);
      server.file("/mine.bin", 1024 * 1024, 4).throttle(512 * 1024);
      Cli.Result detached = Cli.run(home, "download", server.url("/other.bin").toString(), "-o", tmp.resolve("other.bin").toString(), "--detach");
      assertThat(detached.exitCode()).as(detached.toString()).isZero();
      String otherId = detached.out().split(" ")[2].replace(":", "");
      await().atMost(Duration.ofSeconds(30)).until(() -> other.bytesServed() > 0);

      Cli.Result mine = Cli.run(home, "download", server.url("/mine.bin").toString(), "-o", tmp.resolve("mine.bin").toString(), "--json");
      assertThat(mine.exitCode()).as(mine.toString()).isZero();
      List<JsonNode> lines = mine.out().lines().map(Json::parse).toList();
      String myId = lines.stream().filter(l -> l.path("event").asText().equals("started")).findFirst().orElseThrow().path("id").asText();
      assertThat(myId).isNotEqualTo(otherId);
      assertThat(lines).as(mine.out()).extracting(l -> l.path("id").asText()).containsOnly(myId);
      assertThat(lines).as(mine.out()).anyMatch(l -> l.path("event").asText().equals("progress"));
    }
  }
}
