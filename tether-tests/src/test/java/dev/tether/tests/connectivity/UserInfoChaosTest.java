package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import dev.tether.protocol.TetherPaths;
import dev.tether.tests.support.DeliveryChecker;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * User info under a seeded random schedule of faults: link cuts, SIGKILL of the sending daemon, of the receiving daemon
 * and of the receiving app, at random points of a stream of transfers. Every transfer the sending daemon acknowledged
 * reaches the app exactly once and in order; one whose acknowledgement was lost with a killed sender may arrive or
 * not, but never twice and never out of order. A failure names the seed; {@code -Dtether.chaos.seed=S} replays it.
 *
 * <p>The daemons tell each other how far their outboxes are acknowledged every 50 ms instead of every 5 s, so the
 * receiving daemon forgets the ids it has seen (what drops a resent duplicate) as early and as often as it ever
 * would, all through the faults; at the end, once all is acknowledged, it is checked to keep none.
 */
class UserInfoChaosTest {
  static final String APP = "com.example.chaos";
  static final int N = 3_000;

  enum Fault { CUT_LINK, KILL_SENDING_DAEMON, KILL_RECEIVING_DAEMON, KILL_RECEIVING_APP }

  @TempDir Path tmp;

  @Test
  void acknowledgedTransfersArriveExactlyOnceInOrderWhateverFailsWhen() throws Exception {
    long seed = Long.getLong("tether.chaos.seed", System.nanoTime());
    Random random = new Random(seed);
    TreeMap<Integer, Fault> schedule = new TreeMap<>();
    Fault[] kinds = Fault.values();
    for (int k = 0; k < 6; k++) {
      schedule.put(200 + random.nextInt(N - 400), k < kinds.length ? kinds[k] : kinds[random.nextInt(kinds.length)]);
    }
    String plan = "seed " + seed + ", faults " + schedule;
    System.out.println("UserInfoChaosTest: " + plan); // in the build log, so any run can be replayed
    try (PairedDaemons d = PairedDaemons.start(tmp, "-Dtether.cx.lowEveryMillis=50")) {
      Path out = tmp.resolve("received.jsonl");
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out);
      DeliveryChecker checker = new DeliveryChecker();
      List<CompletableFuture<?>> pending = new ArrayList<>();
      DaemonClient sender = d.primary.client(APP);
      try {
        for (int i = 0; i < N; i++) {
          long n = i;
          ObjectNode b = Json.object();
          b.set("payload", PropertyList.encodeTree(Map.of("n", n), PropertyList.MAX_MESSAGE_BYTES, "user info"));
          checker.attempted(n);
          // an acknowledgement lost with a killed daemon is not a failure here: the checker allows that transfer either way
          pending.add(sender.request("cx.userinfo", b).handle((r, failure) -> {
            if (failure == null) {
              checker.acknowledged(n);
            }
            return null;
          }));
          if (pending.size() >= 200) {
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
            pending.clear();
          }
          Fault f = schedule.get(i);
          if (f == null) {
            continue;
          }
          // let some of what was sent get under way, then strike
          int want = Math.min(ReceiverProcess.lines(out).size() + 50, i / 2);
          await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() > want);
          switch (f) {
            case CUT_LINK -> d.proxy.cut();
            case KILL_SENDING_DAEMON -> {
              d.primary.kill9();
              CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
              pending.clear();
              sender.close();
              d.primary.start();
              sender = d.primary.client(APP);
            }
            case KILL_RECEIVING_DAEMON -> {
              d.companion.kill9();
              d.companion.start();
            }
            case KILL_RECEIVING_APP -> {
              receiver.kill9();
              receiver = ReceiverProcess.start(d.companion.home(), APP, out);
            }
          }
        }
        CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
        DaemonClient s = sender;
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
            .until(() -> s.call("cx.outstanding", Json.object()).path("userInfo").isEmpty());
      } finally {
        sender.close();
      }
      // everything stored by the sender has left it; wait until the app has taken all of it
      await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).during(Duration.ofSeconds(2))
          .until(() -> ReceiverProcess.lines(out).size() >= checker.check().acknowledged());
      receiver.close();
      for (String line : ReceiverProcess.lines(out)) {
        JsonNode j = Json.parse(line);
        checker.received(j.path("payload").path("n").asLong());
      }
      DeliveryChecker.Verdict v = checker.check();
      assertThat(v.valid()).as(plan + ": " + v).isTrue();
      assertThat(v.acknowledged()).as(plan).isGreaterThan(N / 2);

      // the receiving daemon keeps seen ids only while the sender could still send them again: once everything is
      // acknowledged it forgets them all within two announcements (without pruning, all N stay for good)
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> seenIds(d.companion.home()) == 0);
    }
  }

  private static int seenIds(Path home) throws java.sql.SQLException {
    try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + TetherPaths.database(home));
         java.sql.ResultSet rs = c.createStatement().executeQuery("SELECT count(*) FROM cx_seen")) {
      return rs.getInt(1);
    }
  }
}
