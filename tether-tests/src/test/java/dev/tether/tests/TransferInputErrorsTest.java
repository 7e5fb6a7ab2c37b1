package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.TestHttpServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, items 7, 8 and 14, as a user meets them with the real CLI and daemon: a URL that can never be fetched is
 * refused at once, a download that cannot connect says why and when it tries again, progress knows a small body's
 * length, and a destination that cannot be written is not reported as a full disk.
 */
class TransferInputErrorsTest {
  static final long MIB = 1024 * 1024;
  @TempDir static Path tmp;
  static DaemonProcess daemon;
  static TestHttpServer server;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(tmp.resolve("home"));
    server = new TestHttpServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    daemon.close();
  }

  private static Cli.Result tether(String... args) {
    return Cli.run(daemon.home(), args);
  }

  /** Item 7: a port outside 1..65535 is refused when the download is created, with one line saying what is wrong. */
  @Test
  void aPortOutOfRangeIsRefusedAtCreation() {
    for (String url : List.of("http://127.0.0.1:99999/x", "http://127.0.0.1:0/x")) {
      Cli.Result r = tether("download", url, "-o", tmp.resolve("never.bin").toString(), "--detach");
      assertThat(r.exitCode()).as(r.toString()).isNotZero();
      assertThat(r.out()).as(r.toString()).doesNotContain("started transfer");
      assertThat(r.err()).as(r.toString()).contains("INVALID_URL").contains("port").contains("1 to 65535");
      assertThat(r.err().strip().lines().count()).as(r.toString()).isEqualTo(1);
    }
    Cli.Result list = tether("transfers", "--json");
    assertThat(list.out()).doesNotContain(":99999/x").doesNotContain(":0/x");
  }

  /**
   * Item 7: a download to a closed port says on stderr, while it waits, why its last attempt failed and when it tries
   * again; {@code tether transfers} says the same, and its JSON has {@code lastError} and {@code nextAttemptAt}.
   */
  @Test
  void aClosedPortSaysWhyAndWhenItTriesAgain() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String url = "http://127.0.0.1:" + port + "/closed.bin";
    List<String> args = new ArrayList<>(List.of("--home", daemon.home().toString(), "download", url, "-o",
        tmp.resolve("closed.bin").toString()));
    Process p = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.cli.Main", args.toArray(String[]::new)))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .start();
    String said;
    try {
      CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
          for (String l; (l = r.readLine()) != null; ) {
            if (l.contains("next try at")) {
              return l;
            }
          }
          return "(stderr ended)";
        } catch (java.io.IOException e) {
          return e.toString();
        }
      });
      said = line.get(20, TimeUnit.SECONDS);
    } finally {
      p.destroy();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(said).contains("connection refused by 127.0.0.1:" + port).containsPattern("next try at \\d\\d:\\d\\d:\\d\\d");

    Cli.Result human = tether("transfers");
    assertThat(human.out()).as(human.toString())
        .containsPattern("waiting for retry: connection refused by 127\\.0\\.0\\.1:" + port + "; next try at \\d\\d:\\d\\d:\\d\\d");
    Cli.Result json = tether("transfers", "--json");
    JsonNode t = null;
    for (JsonNode x : Json.parse(json.out()).path("transfers")) {
      if (x.path("url").asText().equals(url)) {
        t = x;
      }
    }
    assertThat(t).as(json.toString()).isNotNull();
    assertThat(t.path("state").asText()).isEqualTo("RUNNING");
    assertThat(t.path("waitingFor").asText()).isEqualTo("retry");
    assertThat(t.path("lastError").asText()).isEqualTo("connection refused by 127.0.0.1:" + port);
    assertThat(java.time.Instant.parse(t.path("nextAttemptAt").asText())).isAfter(java.time.Instant.now().minusSeconds(5));
    tether("cancel", t.path("id").asText());
  }

  /** Item 8: progress of a body of 4 MiB or less carries the server's Content-Length as the expected bytes. */
  @Test
  void progressOfASmallBodyKnowsItsLength() throws Exception {
    server.file("/small.bin", MIB, 81).throttle(MIB);
    Path out = tmp.resolve("small.bin");
    Cli.Result r = tether("download", server.url("/small.bin").toString(), "-o", out.toString(), "--json");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    List<JsonNode> progress = r.out().lines().filter(l -> l.startsWith("{")).map(Json::parse)
        .filter(j -> j.path("event").asText().equals("progress")).toList();
    assertThat(progress).as(r.toString()).isNotEmpty();
    assertThat(progress).allSatisfy(j -> assertThat(j.path("bytesExpected").asLong()).as(r.toString()).isEqualTo(MIB));
    assertThat(Files.size(out)).isEqualTo(MIB);
  }

  /** Item 14: a destination in a folder that takes no files says it cannot be written, not that the disk is full. */
  @Test
  void aDestinationThatCannotBeWrittenSaysSo() {
    server.file("/proc.bin", 64 * 1024, 82);
    Cli.Result r = tether("download", server.url("/proc.bin").toString(), "-o", "/proc/x");
    assertThat(r.exitCode()).as(r.toString()).isNotZero();
    assertThat(r.err()).as(r.toString()).contains("cannot write /proc/x").contains("FILE_ACCESS_DENIED")
        .doesNotContain("disk space");
    assertThat(r.err().strip().lines().count()).as(r.toString()).isEqualTo(1);
  }
}
