package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.TestHttpServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Background downloads under a seeded random schedule of SIGKILLs: of tetherd while bodies are arriving, being synced
 * and recorded, and of app processes while their delegates are being handed events. Every download completes once,
 * with the right bytes; every event reaches an app (again only after the app that had it was killed before it could
 * acknowledge it, never twice within one process); once an app has drained the session cleanly nothing is left to
 * deliver and no file is left behind. A failure names the seed; {@code -Dtether.chaos.seed=S} replays the schedule.
 */
class TransferChaosTest {
  static final String APP = "com.example.transferchaos";
  static final String SESSION = "chaos";
  static final long KIB = 1024;
  static final long MIB = 1024 * KIB;
  static final long[] SIZES = {64 * KIB, 512 * KIB, 3 * MIB, 12 * MIB, 24 * MIB};

  @TempDir Path tmp;

  /** One app process's run: the lines its delegate printed, and whether it was killed (or died) instead of exiting. */
  record AppRun(int n, List<JsonNode> lines, boolean clean) {}

  /** How a run is shaped: the files, how fast the server sends them, and how often and how soon tetherd is killed. */
  record Shape(String name, int files, long[] sizes, long bytesPerSecond, int killPercent, int pauseMillis, int minKills) {}

  @Test
  void everyDownloadCompletesOnceWithTheRightBytesWhateverIsKilledWhen() throws Exception {
    // large bodies at 8 MiB/s per connection: kills land while bodies are still arriving
    run(new Shape("large", 10, new long[] {64 * KIB, 512 * KIB, 3 * MIB, 12 * MIB, 24 * MIB}, 8 * MIB, 35, 1000, 2));
  }

  @Test
  void manySmallDownloadsCompleteOnceWhateverIsKilledWhen() throws Exception {
    // many small bodies and frequent kills: kills land between a body's last byte, its fsync, its move and its record
    run(new Shape("small", 150, new long[] {16 * KIB, 64 * KIB, 200 * KIB}, 256 * KIB, 60, 220, 6));
  }

  private void run(Shape shape) throws Exception {
    long seed = Long.getLong("tether.chaos.seed", System.nanoTime());
    Random random = new Random(seed);
    System.out.println("TransferChaosTest (" + shape.name() + "): seed " + seed); // in the build log, so any run can be replayed
    Path home = tmp.resolve("home");
    List<String> plan = new ArrayList<>();
    List<AppRun> runs = new ArrayList<>();
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      Map<Long, TestHttpServer.Resource> byId = new LinkedHashMap<>();
      // the app that queues the downloads gets the events of those that finish before it exits: they count too
      List<JsonNode> creatorLines = java.util.Collections.synchronizedList(new ArrayList<>());
      UrlSessionDelegate recording = new UrlSessionDelegate() {
        @Override
        public void downloadFinished(DownloadTransfer t, Path file) throws Exception {
          creatorLines.add(Json.object().put("event", "downloadFinished").put("id", t.id()).put("size", Files.size(file))
              .put("sha256", dev.tether.tests.support.GeneratedContent.sha256(file)));
        }

        @Override
        public void transferCompleted(dev.tether.Transfer t, java.util.Optional<dev.tether.TransferError> error) {
          com.fasterxml.jackson.databind.node.ObjectNode o = Json.object().put("event", "completed").put("id", t.id());
          error.ifPresent(e -> o.put("error", e.code().name()));
          creatorLines.add(o);
        }
      };
      try (Tether app = Tether.connect(APP, TetherOptions.defaults().home(home).startDaemon(false))) {
        UrlSession s = app.urlSession(SessionConfiguration.background(SESSION).build(), recording);
        for (int i = 0; i < shape.files(); i++) {
          long size = shape.sizes()[random.nextInt(shape.sizes().length)];
          TestHttpServer.Resource r = server.file("/f" + i + ".bin", size, 1000 + i).throttle(shape.bytesPerSecond());
          DownloadTransfer t = s.download(server.url("/f" + i + ".bin")).description("f" + i).start();
          byId.put(t.id(), r);
        }
      } // the app that queued them has exited
      runs.add(new AppRun(-1, List.copyOf(creatorLines), true));

      long until = System.nanoTime() + Duration.ofSeconds(12).toNanos();
      int kills = 0;
      while (System.nanoTime() < until && !(kills >= shape.minKills() && allCompleted(daemon, byId.keySet()))) {
        if (random.nextInt(100) < shape.killPercent()) {
          TimeUnit.MILLISECONDS.sleep(20 + random.nextInt(shape.pauseMillis()));
          plan.add("kill tetherd");
          daemon.kill9();
          kills++;
          TimeUnit.MILLISECONDS.sleep(random.nextInt(200));
          daemon.start();
        } else {
          long life = 100 + random.nextInt(1400);
          plan.add("app for " + life + " ms");
          runs.add(runApp(home, runs.size(), life));
        }
      }
      plan.add("drain");
      await().atMost(Duration.ofSeconds(90)).until(() -> allCompleted(daemon, byId.keySet()));
      AppRun drain = runApp(home, runs.size(), 0);
      runs.add(drain);
      AppRun after = runApp(home, runs.size(), 0);
      String context = "seed " + seed + ", plan " + plan;

      assertThat(drain.clean()).as("the draining app exits by itself; " + context).isTrue();
      assertThat(after.clean()).as(context).isTrue();
      assertThat(after.lines()).as("nothing is delivered twice once an app drained the session cleanly; " + context)
          .extracting(n -> n.path("event").asText()).containsExactly("delivered");

      Set<Long> completed = new HashSet<>();
      Map<String, Integer> runsPerEvent = new LinkedHashMap<>();
      for (AppRun run : runs) {
        Set<String> seenHere = new HashSet<>();
        Set<Long> finishedHere = new HashSet<>();
        for (JsonNode line : run.lines()) {
          String event = line.path("event").asText();
          if (!event.equals("downloadFinished") && !event.equals("completed")) {
            continue;
          }
          long id = line.path("id").asLong();
          assertThat(byId).as("an event for a transfer this test started; " + context).containsKey(id);
          assertThat(seenHere.add(event + " " + id)).as("app run " + run.n() + " got " + event + " of " + id + " twice; " + context).isTrue();
          runsPerEvent.merge(event + " " + id, 1, Integer::sum);
          if (event.equals("downloadFinished")) {
            TestHttpServer.Resource r = byId.get(id);
            assertThat(line.path("size").asLong()).as("size of " + id + "; " + context).isEqualTo(r.content().size());
            assertThat(line.path("sha256").asText()).as("SHA-256 of " + id + "; " + context).isEqualTo(r.content().sha256());
            finishedHere.add(id);
          } else {
            assertThat(line.has("error")).as("transfer " + id + " completed with " + line.path("error").asText() + "; " + context).isFalse();
            completed.add(id);
          }
        }
      }
      assertThat(completed).as("every transfer's completion reached an app; " + context).containsExactlyInAnyOrderElementsOf(byId.keySet());
      try (var files = Files.list(home.resolve("data/transfers"))) {
        assertThat(files.toList()).as("no part file or undelivered download left behind; " + context).isEmpty();
      }
      for (TestHttpServer.Resource r : byId.values()) {
        // a killed daemon resumes with a ranged request: what it loses is at most what was in flight, not whole bodies
        assertThat(r.bytesServed()).as("bytes served for a body of " + r.content().size() + "; " + context)
            .isLessThanOrEqualTo(r.content().size() + kills * 8 * MIB);
      }
      long again = runsPerEvent.values().stream().filter(k -> k > 1).count();
      long inKilled = runs.stream().filter(r -> !r.clean()).mapToLong(r -> r.lines().size()).sum();
      System.out.println("TransferChaosTest (" + shape.name() + "): " + kills + " daemon kill(s), " + (runs.size() - 2) + " killed app run(s) that printed "
          + inKilled + " line(s), " + again + " event(s) delivered again after their app was killed: " + plan);
    }
  }

  private static boolean allCompleted(DaemonProcess daemon, Set<Long> ids) {
    try (DaemonClient cli = daemon.client("dev.tether.cli")) {
      for (long id : ids) {
        if (!TransferSurvivalTest.state(cli, id).equals("COMPLETED")) {
          return false;
        }
      }
      return true;
    } catch (RuntimeException e) {
      return false; // the daemon is restarting
    }
  }

  /** Runs the app on the session; with {@code lifeMillis > 0} it is SIGKILLed after that long unless it exited first. */
  private AppRun runApp(Path home, int n, long lifeMillis) throws Exception {
    Path out = tmp.resolve("app-" + n + ".jsonl");
    ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.tests.apps.TransferApp",
        home.toString(), APP, SESSION, "attach"));
    pb.redirectOutput(out.toFile());
    pb.redirectError(ProcessBuilder.Redirect.appendTo(tmp.resolve("app.err").toFile()));
    Process p = pb.start();
    boolean exited = p.waitFor(lifeMillis > 0 ? lifeMillis : 120_000, TimeUnit.MILLISECONDS);
    if (!exited) {
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
    boolean clean = exited && p.exitValue() == 0;
    List<JsonNode> lines = new ArrayList<>();
    for (String l : Files.readAllLines(out)) {
      if (!l.isBlank()) {
        lines.add(Json.parse(l));
      }
    }
    return new AppRun(n, lines, clean);
  }
}
