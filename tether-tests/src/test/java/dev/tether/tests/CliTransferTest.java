package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.TestHttpServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tether download|upload|transfers|cancel|conditions} as a user runs them: real CLI processes. */
class CliTransferTest {
  static final long MIB = 1024 * 1024;
  @TempDir Path tmp;

  record Run(int exit, String out, String err) {
    List<JsonNode> lines() {
      return out.lines().filter(l -> l.startsWith("{")).map(Json::parse).toList();
    }
  }

  private Run tether(Path home, String... args) throws Exception {
    List<String> a = new ArrayList<>(List.of("--home", home.toString()));
    a.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.cli.Main", a.toArray(String[]::new)));
    Path err = Files.createTempFile(tmp, "err", ".txt");
    pb.redirectError(err.toFile());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out, Files.readString(err));
  }

  @Test
  void downloadUploadListCancelAndConditions() throws Exception {
    Path home = tmp.resolve("home");
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource file = server.file("/file.bin", 5 * MIB, 51);
      Path out = tmp.resolve("file.bin");
      Run r = tether(home, "download", server.url("/file.bin").toString(), "-o", out.toString(), "--json");
      assertThat(r.exit()).as(r.err()).isZero();
      List<JsonNode> lines = r.lines();
      assertThat(lines.get(0).path("event").asText()).isEqualTo("started");
      JsonNode last = lines.get(lines.size() - 1);
      assertThat(last.path("event").asText()).isEqualTo("completed");
      assertThat(last.path("ok").asBoolean()).isTrue();
      assertThat(last.path("file").asText()).isEqualTo(out.toString());
      assertThat(last.path("bytesDone").asLong()).isEqualTo(5 * MIB);
      assertThat(GeneratedContent.sha256(out)).isEqualTo(file.content().sha256());

      Run missing = tether(home, "download", server.url("/missing.bin").toString(), "-o", tmp.resolve("m.bin").toString());
      assertThat(missing.exit()).isEqualTo(1);
      assertThat(missing.err()).contains("404").contains("HTTP_ERROR");
      assertThat(tmp.resolve("m.bin")).doesNotExist();

      Run ftp = tether(home, "download", "ftp://127.0.0.1/x", "-o", tmp.resolve("f.bin").toString());
      assertThat(ftp.exit()).isEqualTo(4);
      assertThat(ftp.err()).contains("INVALID_URL");

      server.file("/slow.bin", 4 * MIB, 52).fault(new TestHttpServer.PauseAfter(MIB, gate));
      Run detached = tether(home, "download", server.url("/slow.bin").toString(), "-o", tmp.resolve("slow.bin").toString(), "--detach");
      assertThat(detached.exit()).as(detached.err()).isZero();
      assertThat(detached.out()).startsWith("started transfer ");
      String id = detached.out().split(" ")[2].replace(":", "");
      Run list = tether(home, "transfers", "--json");
      JsonNode slow = find(list, id);
      assertThat(slow.path("state").asText()).isEqualTo("RUNNING");
      assertThat(slow.path("app").asText()).isEqualTo("dev.tether.cli");
      assertThat(tether(home, "cancel", id).exit()).isZero();
      gate.countDown();
      JsonNode cancelled = find(tether(home, "transfers", "--json"), id);
      assertThat(cancelled.path("state").asText()).isEqualTo("COMPLETED");
      assertThat(cancelled.path("error").path("code").asText()).isEqualTo("CANCELLED");
      assertThat(tether(home, "cancel", "424242").exit()).isEqualTo(4);

      TestHttpServer.UploadSink sink = server.upload("/put");
      Run up = tether(home, "upload", out.toString(), server.url("/put").toString(), "--method", "POST");
      assertThat(up.exit()).as(up.err()).isZero();
      assertThat(sink.received()).containsExactly(file.content().sha256());

      Run cond = tether(home, "conditions", "--power", "battery", "--json");
      assertThat(Json.parse(cond.out()).path("power").asText()).isEqualTo("battery");
      assertThat(Json.parse(cond.out()).path("discretionaryMayRun").asBoolean()).isFalse();
      Run auto = tether(home, "conditions", "--power", "auto");
      assertThat(auto.out()).contains("read from the system");
      assertThat(tether(home, "conditions", "--network", "sometimes").exit()).isEqualTo(4);
    }
  }

  @Test
  void downloadListCreatesEveryGoodLineInOneRequestAndReportsEachBadOne() throws Exception {
    Path home = tmp.resolve("home");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      List<TestHttpServer.Resource> files = new ArrayList<>();
      StringBuilder list = new StringBuilder("# URL FILE\n");
      for (int i = 0; i < 40; i++) {
        files.add(server.file("/f" + i, 64 * 1024 + i, 60 + i));
        list.append(server.url("/f" + i)).append(' ').append(tmp.resolve("f" + i)).append('\n');
        if (i == 10) {
          list.append("ftp://127.0.0.1/nope ").append(tmp.resolve("nope")).append('\n');
        }
        if (i == 20) {
          list.append(server.url("/missing")).append(' ').append(tmp.resolve("missing")).append('\n');
        }
      }
      Path listFile = tmp.resolve("list.txt");
      Files.writeString(listFile, list.toString());

      Run r = tether(home, "download", "--list", listFile.toString(), "--connections", "8", "--json");
      assertThat(r.exit()).as(r.err()).isEqualTo(1);
      assertThat(r.err()).contains("INVALID_URL").contains("ftp://127.0.0.1/nope");
      List<JsonNode> started = r.lines().stream().filter(l -> l.path("event").asText().equals("started")).toList();
      assertThat(started).hasSize(41);
      assertThat(started.get(11).path("url").asText()).isEqualTo(server.url("/f11").toString()); // order kept around the refused line
      List<JsonNode> completed = r.lines().stream().filter(l -> l.path("event").asText().equals("completed")).toList();
      assertThat(completed).hasSize(41);
      assertThat(completed).filteredOn(l -> !l.path("ok").asBoolean()).singleElement()
          .satisfies(l -> assertThat(l.path("error").path("code").asText()).isEqualTo("HTTP_ERROR"));
      for (int i = 0; i < 40; i++) {
        assertThat(GeneratedContent.sha256(tmp.resolve("f" + i))).isEqualTo(files.get(i).content().sha256());
      }
      assertThat(tmp.resolve("nope")).doesNotExist();
      assertThat(tmp.resolve("missing")).doesNotExist();
      for (int i = 0; i < 40; i++) {
        assertThat(server.requests("/f" + i)).hasSize(1);
      }
    }
  }

  @Test
  void downloadListWithoutJsonAsksForIdsOnlyAndStillNamesEachUrlAndFile() throws Exception {
    Path home = tmp.resolve("home");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      StringBuilder list = new StringBuilder();
      for (int i = 0; i < 6; i++) {
        server.file("/g" + i, 32 * 1024 + i, 80 + i);
        list.append(server.url("/g" + i)).append(' ').append(tmp.resolve("g" + i)).append('\n');
        if (i == 2) {
          list.append("ftp://127.0.0.1/bad ").append(tmp.resolve("bad")).append('\n');
          list.append(server.url("/absent")).append(' ').append(tmp.resolve("absent")).append('\n');
        }
      }
      Path listFile = tmp.resolve("list.txt");
      Files.writeString(listFile, list.toString());

      Run followed = tether(home, "download", "--list", listFile.toString(), "--session", "followed");
      assertThat(followed.exit()).as(followed.err()).isEqualTo(1);
      assertThat(followed.err()).contains("INVALID_URL").contains("ftp://127.0.0.1/bad")
          .containsPattern("transfer \\d+ of " + java.util.regex.Pattern.quote(server.url("/absent").toString()) + " failed: .*HTTP_ERROR");
      assertThat(followed.out()).contains("6 of 7 transfer(s) finished");
      for (int i = 0; i < 6; i++) {
        assertThat(Files.size(tmp.resolve("g" + i))).isEqualTo(32 * 1024 + i);
      }

      Run detached = tether(home, "download", "--list", listFile.toString(), "--session", "detached", "--detach");
      assertThat(detached.exit()).isEqualTo(4); // the refused line
      List<String> started = detached.out().lines().toList();
      assertThat(started).hasSize(7);
      for (int i = 0; i < 7; i++) {
        String url = i < 3 ? server.url("/g" + i).toString() : i == 3 ? server.url("/absent").toString() : server.url("/g" + (i - 1)).toString();
        String file = (i < 3 ? tmp.resolve("g" + i) : i == 3 ? tmp.resolve("absent") : tmp.resolve("g" + (i - 1))).toString();
        assertThat(started.get(i)).matches("started transfer \\d+: " + java.util.regex.Pattern.quote(url + " -> " + file));
      }
      assertThat(started.stream().map(l -> l.split(" ")[2]).distinct()).hasSize(7);
    }
  }

  @Test
  void waitingDownloadSaysSoWhenTheDaemonDiesAndTheDownloadGoesOnAfterARestart() throws Exception {
    Path home = tmp.resolve("home");
    CountDownLatch gate = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource file = server.file("/long.bin", 8 * MIB, 53).fault(new TestHttpServer.PauseAfter(2 * MIB, gate));
      Path out = tmp.resolve("long.bin");
      List<String> a = new ArrayList<>(List.of("--home", home.toString(), "download", server.url("/long.bin").toString(), "-o", out.toString()));
      ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.cli.Main", a.toArray(String[]::new)));
      pb.redirectErrorStream(true);
      Process cli = pb.start();
      await().atMost(Duration.ofSeconds(30)).until(() -> file.paused() == 1);
      daemon.kill9();
      gate.countDown();
      String said = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(cli.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(cli.exitValue()).as(said).isEqualTo(3);
      assertThat(said).contains("DAEMON_UNAVAILABLE").contains("tether transfers");
      daemon.start();
      await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(out));
      assertThat(GeneratedContent.sha256(out)).isEqualTo(file.content().sha256());
    }
  }

  private static JsonNode find(Run list, String id) {
    for (JsonNode t : Json.parse(list.out()).path("transfers")) {
      if (t.path("id").asText().equals(id)) {
        return t;
      }
    }
    throw new AssertionError("transfer " + id + " not listed: " + list.out());
  }
}
