package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.UserInfoTransfer;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import dev.tether.tests.support.Tmpfs;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A receiver whose disk is full refuses user info for now: the link stays up, the sender keeps every transfer queued
 * in order, its app is told why (INSUFFICIENT_SPACE), and once space is freed all of them arrive exactly once, in order.
 */
class ReceiverFullDiskUserInfoTest {
  static final String APP = "com.example.notes";
  static final int N = 3000;

  @TempDir Path tmp;

  @Test
  void aFullDiskOnTheReceiverHoldsUserInfoBackWithATypedErrorAndDeliversItInOrderOnceSpaceIsFreed() throws Exception {
    Path companionHome = tmp.resolve("companion");
    Files.createDirectories(companionHome);
    Assumptions.assumeTrue(Tmpfs.mount(companionHome, "32m"), "mounting a tmpfs needs root");
    try {
      List<TetherException> blocked = new CopyOnWriteArrayList<>();
      List<Optional<TetherException>> finished = new CopyOnWriteArrayList<>();
      Path out = tmp.resolve("received.jsonl");
      try (PairedDaemons d = PairedDaemons.start(tmp);
           Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false));
           ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out)) {
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {
          @Override
          public void userInfoTransfersBlocked(ConnectivitySession session, TetherException error) {
            blocked.add(error);
          }

          @Override
          public void userInfoTransferFinished(ConnectivitySession session, UserInfoTransfer transfer, Optional<TetherException> error) {
            finished.add(error);
          }
        });
        s.activate().get(30, TimeUnit.SECONDS);
        s.transferUserInfo(Map.of("n", -1));
        await().atMost(Duration.ofSeconds(30)).until(() -> ReceiverProcess.lines(out).size() == 1);
        long connections = d.proxy.connections();

        Path filler = companionHome.resolve("filler");
        byte[] block = new byte[64 * 1024];
        try (OutputStream o = Files.newOutputStream(filler)) {
          while (true) {
            o.write(block);
          }
        } catch (IOException full) {
          // the disk is full now
        }
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < N; i++) {
          ids.add(s.transferUserInfo(Map.of("n", i, "text", "note " + i)).id());
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> !blocked.isEmpty());
        assertThat(blocked.get(0).code()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
        assertThat(blocked.get(0).getMessage()).contains("cannot store user info").contains("stay queued")
            .contains(companionHome.toString());
        assertThat(s.outstandingUserInfoTransfers()).hasSizeGreaterThan(N / 2);
        Cli.Result listed = Cli.run(d.primary.home(), "outstanding", "--app", APP, "--json");
        assertThat(listed.exitCode()).as(listed.toString()).isZero();
        assertThat(listed.out()).contains("\"errorCode\":\"INSUFFICIENT_SPACE\"");
        assertThat(d.proxy.connections()).as("the link stays up while user info is refused").isEqualTo(connections);
        assertThat(PairedDaemons.connected(d.primary)).isTrue();

        Files.delete(filler);
        try {
          await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() == N + 1);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
          String cl = Files.readString(d.companion.home().resolve("logs/tetherd.log"));
          String pl = Files.readString(d.primary.home().resolve("logs/tetherd.log"));
          throw new AssertionError("lines " + ReceiverProcess.lines(out).size() + " outstanding " + s.outstandingUserInfoTransfers().size()
              + "\n--- companion\n" + cl.substring(Math.max(0, cl.length() - 6000)) + "\n--- primary\n" + pl.substring(Math.max(0, pl.length() - 4000)), e);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> s.outstandingUserInfoTransfers().isEmpty());
        receiver.close();
        List<String> lines = ReceiverProcess.lines(out);
        List<Integer> got = new ArrayList<>();
        List<String> gotIds = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
          JsonNode n = Json.parse(line);
          got.add(n.path("payload").path("n").asInt());
          gotIds.add(n.path("id").asText());
        }
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < N; i++) {
          expected.add(i);
        }
        assertThat(got).as("every one exactly once, in order").isEqualTo(expected);
        assertThat(gotIds).isEqualTo(ids);
        await().atMost(Duration.ofSeconds(10)).until(() -> finished.size() == N + 1);
        assertThat(finished).allMatch(Optional::isEmpty);
        assertThat(d.proxy.connections()).as("no reconnect loop").isEqualTo(connections);
        assertThat(blocked).as("told once per episode, not per transfer").hasSizeLessThan(10);
        // (not checked: the companion's "refusing user info" log line, which goes to the same full disk and is written
        // only when the log file's last block happens to have room; the refusal itself is checked through `blocked`)
      }
    } finally {
      Tmpfs.unmount(companionHome);
    }
  }
}
