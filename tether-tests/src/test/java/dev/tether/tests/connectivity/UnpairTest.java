package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.FileTransfer;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.UserInfoTransfer;
import dev.tether.cli.Main;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.TetherPaths;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Transfers queued for a device that is then unpaired end with DELIVERY_FAILED instead of staying outstanding forever. */
class UnpairTest {
  static final String APP = "com.example.notes";

  @TempDir Path tmp;

  @Test
  void transfersQueuedForAnUnpairedDeviceFailWithDeliveryFailed() throws Exception {
    Path note = Files.writeString(tmp.resolve("note.txt"), "a note that will never arrive");
    Map<String, ErrorCode> finished = new ConcurrentHashMap<>();
    Map<String, String> messages = new ConcurrentHashMap<>();
    try (PairedDaemons d = PairedDaemons.start(tmp);
         Tether app = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
      String companion;
      try (DaemonClient cli = d.primary.client("dev.tether.cli")) {
        ObjectNode peers = cli.call("cx.peers", Json.object());
        companion = peers.path("peers").get(0).path("peer").asText();
      }
      d.companion.kill9(); // nothing can arrive: everything stays queued
      ConnectivitySession s = app.connectivity(new ConnectivityDelegate() {
        @Override
        public void userInfoTransferFinished(ConnectivitySession session, UserInfoTransfer t, Optional<TetherException> error) {
          record(t.id(), error);
        }

        @Override
        public void fileTransferFinished(ConnectivitySession session, FileTransfer t, Optional<TetherException> error) {
          record(t.id(), error);
        }

        private void record(String id, Optional<TetherException> error) {
          finished.put(id, error.map(TetherException::code).orElse(ErrorCode.GENERIC));
          error.ifPresent(e -> messages.put(id, e.getMessage()));
        }
      });
      s.activate().get(30, TimeUnit.SECONDS);
      List<String> ids = Stream.of(1, 2, 3).map(i -> s.transferUserInfo(Map.of("n", i)).id()).toList();
      FileTransfer file = s.transferFile(note, Map.of());
      assertThat(s.outstandingUserInfoTransfers()).hasSize(3);
      assertThat(s.outstandingFileTransfers()).hasSize(1);
      Path snapshots = TetherPaths.dataDir(d.primary.home()).resolve("connectivity").resolve("out");
      await().atMost(Duration.ofSeconds(10)).until(() -> listing(snapshots) > 0);

      assertThat(Main.run("--home", d.primary.home().toString(), "unpair", companion.substring(0, 12))).isZero();

      await().atMost(Duration.ofSeconds(20)).until(() -> finished.size() == 4);
      assertThat(finished).containsOnlyKeys(ids.get(0), ids.get(1), ids.get(2), file.id())
          .allSatisfy((id, code) -> assertThat(code).isEqualTo(ErrorCode.DELIVERY_FAILED));
      assertThat(messages.get(file.id())).contains("unpaired").contains(companion.substring(0, 12));
      assertThat(s.outstandingUserInfoTransfers()).isEmpty();
      assertThat(s.outstandingFileTransfers()).isEmpty();
      await().atMost(Duration.ofSeconds(10)).until(() -> listing(snapshots) == 0); // the file's snapshot is gone too
    }
  }

  @Test
  void anAppThatWasNotRunningIsToldOfItsFailedTransfersOnceWhenItActivates() throws Exception {
    List<String> ids;
    String companion;
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      try (DaemonClient cli = d.primary.client("dev.tether.cli")) {
        companion = cli.call("cx.peers", Json.object()).path("peers").get(0).path("peer").asText();
      }
      d.companion.kill9();
      try (Tether app = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = app.connectivity(new ConnectivityDelegate() {});
        s.activate().get(30, TimeUnit.SECONDS);
        ids = Stream.of(1, 2).map(i -> s.transferUserInfo(Map.of("n", i)).id()).toList();
      }
      // the app has exited; the device its transfers wait for is unpaired
      assertThat(Main.run("--home", d.primary.home().toString(), "unpair", companion.substring(0, 12))).isZero();
      Map<String, ErrorCode> told = new ConcurrentHashMap<>();
      ConnectivityDelegate recording = new ConnectivityDelegate() {
        @Override
        public void userInfoTransferFinished(ConnectivitySession session, UserInfoTransfer t, Optional<TetherException> error) {
          told.merge(t.id(), error.map(TetherException::code).orElse(ErrorCode.GENERIC), (a, b) -> ErrorCode.GENERIC);
        }
      };
      try (Tether app = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = app.connectivity(recording);
        s.activate().get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(20)).until(() -> told.size() == 2);
        assertThat(told).containsOnlyKeys(ids).allSatisfy((id, code) -> assertThat(code).isEqualTo(ErrorCode.DELIVERY_FAILED));
        assertThat(s.outstandingUserInfoTransfers()).isEmpty();
      }
      // told once: the next run of the app hears nothing more (kept until acknowledged, then forgotten)
      told.clear();
      try (Tether app = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = app.connectivity(recording);
        s.activate().get(30, TimeUnit.SECONDS);
        assertThat(s.outstandingUserInfoTransfers()).isEmpty();
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(told::isEmpty);
      }
    }
  }

  private static long listing(Path dir) throws Exception {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.count();
    }
  }
}
