package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An app whose delegate is slow is handed a long burst of events (tetherd pushes them in one frame) and is killed in
 * the middle of it: the next app process is handed again only what the first had not acknowledged yet, not the whole
 * burst, because the client acknowledges as it goes (every 64 events or 200 ms), not only at a burst's end.
 */
class TransferAckProgressTest {
  static final String APP = "com.example.slowdelegate";
  static final int DOWNLOADS = 60;
  static final int EVENTS = 2 * DOWNLOADS; // downloadFinished and completed each

  @TempDir Path tmp;

  @Test
  void anAppKilledInTheMiddleOfALongBurstIsHandedAgainOnlyWhatItHadNotAcknowledged() throws Exception {
    Path home = tmp.resolve("home");
    CountDownLatch hold = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      List<Long> ids = new ArrayList<>();
      try (Tether app = Tether.connect(APP, TetherOptions.defaults().home(home).startDaemon(false))) {
        UrlSession s = app.urlSession(SessionConfiguration.background("slow").build(), new UrlSessionDelegate() {});
        for (int i = 0; i < DOWNLOADS; i++) {
          // held after the first byte until this app has gone, so that every event waits for the next app
          server.file("/s" + i, 16 * 1024, 500 + i).fault(new TestHttpServer.PauseAfter(1, hold));
          ids.add(s.download(server.url("/s" + i)).start().id());
        }
      }
      hold.countDown();
      try (DaemonClient cli = daemon.client("dev.tether.cli")) {
        await().atMost(Duration.ofSeconds(60)).until(() -> ids.stream().allMatch(id -> TransferSurvivalTest.state(cli, id).equals("COMPLETED")));
      }

      // 30 ms of work per event: the whole burst would take 3.6 s; the app is killed once it has started on half of it
      Path first = tmp.resolve("first.jsonl");
      Process slow = app(home, first, "30");
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(5)).until(() -> events(first).size() >= EVENTS / 2);
      slow.destroyForcibly();
      assertThat(slow.waitFor(30, TimeUnit.SECONDS)).isTrue();
      List<String> handled = events(first);

      Path second = tmp.resolve("second.jsonl");
      Process drain = app(home, second);
      assertThat(drain.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(drain.exitValue()).isZero();
      List<String> again = events(second);

      Set<String> all = new HashSet<>(handled);
      all.addAll(again);
      assertThat(all).as("every event reached an app").hasSize(EVENTS);
      assertThat(again).as("handed again: only what the killed app had not acknowledged").doesNotHaveDuplicates();
      // the killed app had handed over EVENTS/2 or a few more; of those, only the last ~200 ms (plus the request in
      // flight) may be unacknowledged: without acknowledgements inside the burst, all EVENTS would come again
      assertThat(again.size()).as("events handed again after " + handled.size() + " were handled")
          .isLessThanOrEqualTo(EVENTS - handled.size() + 20);
    }
  }

  private Process app(Path home, Path out, String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of(home.toString(), APP, "slow", "attach"));
    args.addAll(List.of(more));
    ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.tests.apps.TransferApp", args.toArray(String[]::new)));
    pb.redirectOutput(out.toFile());
    pb.redirectError(ProcessBuilder.Redirect.appendTo(tmp.resolve("app.err").toFile()));
    return pb.start();
  }

  /** The downloadFinished and completed lines written so far, as "event id" (a line being written is skipped). */
  private static List<String> events(Path out) throws Exception {
    List<String> l = new ArrayList<>();
    if (!Files.exists(out)) {
      return l;
    }
    String text = Files.readString(out);
    int end = text.lastIndexOf('\n');
    if (end < 0) {
      return l;
    }
    for (String line : text.substring(0, end).split("\n")) {
      JsonNode j = Json.parse(line);
      String event = j.path("event").asText();
      if (event.equals("downloadFinished") || event.equals("completed")) {
        l.add(event + " " + j.path("id").asLong());
      }
    }
    return l;
  }
}
