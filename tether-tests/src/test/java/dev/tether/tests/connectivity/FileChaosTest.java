package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.FileTransfer;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.protocol.Json;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * File transfers under a seeded random schedule of faults struck while the files are on their way: link cuts, SIGKILL
 * of the sending daemon, of the receiving daemon and of the receiving app. Every file the sender accepted reaches the
 * app exactly once, in order, with its metadata and the bytes it had at the call (SHA-256), and nothing is left behind
 * on either side. A failure names the seed; {@code -Dtether.chaos.seed=S} replays it.
 */
class FileChaosTest {
  static final String APP = "com.example.filechaos";
  static final long MIB = 1024 * 1024;
  static final int FILES = 6;

  enum Fault { CUT_LINK, KILL_SENDING_DAEMON, KILL_RECEIVING_DAEMON, KILL_RECEIVING_APP }

  @TempDir Path tmp;

  @Test
  void everyAcceptedFileArrivesOnceInOrderWithItsBytesWhateverFailsWhen() throws Exception {
    long seed = Long.getLong("tether.chaos.seed", System.nanoTime());
    Random random = new Random(seed);
    List<Path> sources = new ArrayList<>();
    List<String> sha = new ArrayList<>();
    long total = 0;
    for (int i = 0; i < FILES; i++) {
      long size = (1 + random.nextInt(24)) * MIB + random.nextInt(4096); // not a whole number of blocks or chunks
      Path p = tmp.resolve("src-" + i + ".bin");
      sha.add(write(p, size, random.nextLong()));
      sources.add(p);
      total += size;
    }
    TreeMap<Long, Fault> schedule = new TreeMap<>();
    Fault[] kinds = Fault.values();
    for (int k = 0; k < 6; k++) {
      long at = (long) (total * (0.05 + 0.85 * random.nextDouble()));
      schedule.put(at, k < kinds.length ? kinds[k] : kinds[random.nextInt(kinds.length)]);
    }
    String plan = "seed " + seed + ", " + FILES + " files, " + total / MIB + " MiB, faults at bytes " + schedule;
    System.out.println("FileChaosTest: " + plan); // in the build log, so any run can be replayed

    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path out = tmp.resolve("received.jsonl");
      Path kept = tmp.resolve("kept");
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", kept.toString());
      List<String> ids = new ArrayList<>();
      try (Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
        s.activate().get(30, TimeUnit.SECONDS);
        for (int i = 0; i < FILES; i++) {
          FileTransfer t = s.transferFile(sources.get(i), Map.of("n", i));
          ids.add(t.id());
        }
      } // the sending app has exited; its files are the daemons' to carry now
      long base = d.proxy.bytesForwarded();
      try {
        for (Map.Entry<Long, Fault> e : schedule.entrySet()) {
          long threshold = base + e.getKey();
          await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(5))
              .until(() -> d.proxy.bytesForwarded() >= threshold || ReceiverProcess.lines(out).size() == FILES);
          if (ReceiverProcess.lines(out).size() == FILES) {
            break;
          }
          switch (e.getValue()) {
            case CUT_LINK -> d.proxy.cut();
            case KILL_SENDING_DAEMON -> {
              d.primary.kill9();
              d.primary.start();
            }
            case KILL_RECEIVING_DAEMON -> {
              d.companion.kill9();
              d.companion.start();
            }
            case KILL_RECEIVING_APP -> {
              receiver.kill9();
              receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", kept.toString());
            }
          }
        }
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(200))
            .until(() -> ReceiverProcess.lines(out).size() >= FILES);
        // and nothing more comes for a while: a second delivery of any file would be a duplicate
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10)).until(() -> ReceiverProcess.lines(out).size() == FILES);
        List<String> lines = ReceiverProcess.lines(out);
        assertThat(lines).as(plan).hasSize(FILES);
        for (int i = 0; i < FILES; i++) {
          JsonNode line = Json.parse(lines.get(i));
          assertThat(line.path("kind").asText()).as(plan).isEqualTo("file");
          assertThat(line.path("metadata").path("n").asInt()).as("delivery " + i + " in order; " + plan).isEqualTo(i);
          Path got = Path.of(line.path("path").asText());
          assertThat(GeneratedContent.sha256(got)).as("SHA-256 of file " + i + "; " + plan).isEqualTo(sha.get(i));
        }
        try (Tether again = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
          ConnectivitySession s = again.connectivity(new ConnectivityDelegate() {});
          s.activate().get(30, TimeUnit.SECONDS);
          await().atMost(Duration.ofSeconds(30)).until(() -> s.outstandingFileTransfers().isEmpty());
        }
        Path inbox = d.companion.home().resolve("data/connectivity/in");
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
          try (var left = Files.list(inbox)) {
            assertThat(left.toList()).as("nothing left behind on the receiver; " + plan).isEmpty();
          }
        });
        // a fault costs what was in flight, not the file: transfers resume where the receiver's copy ends
        assertThat(d.proxy.bytesForwarded() - base).as("bytes across the link; " + plan)
            .isLessThan(total + schedule.size() * 8 * MIB);
      } finally {
        receiver.close();
      }
      System.out.println("FileChaosTest: passed, " + (d.proxy.bytesForwarded() - base) / MIB + " MiB crossed the link for "
          + total / MIB + " MiB of files; " + plan);
    }
  }

  private static String write(Path p, long size, long seed) throws Exception {
    Random r = new Random(seed);
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    byte[] block = new byte[1024 * 1024];
    try (OutputStream o = Files.newOutputStream(p)) {
      for (long left = size; left > 0; ) {
        int n = (int) Math.min(block.length, left);
        r.nextBytes(block);
        md.update(block, 0, n);
        o.write(block, 0, n);
        left -= n;
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
