package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.FileTransfer;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.protocol.TetherPaths;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.PairedDaemons;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A file cancelled on its way stops going and leaves nothing behind on the paired device. */
class FileCancelTest {
  static final String APP = "com.example.photos";
  static final int MIB = 1024 * 1024;

  @TempDir Path tmp;

  @Test
  void aFileCancelledOnItsWayIsDroppedByThePairedDevice() throws Exception {
    long size = 256L * MIB;
    Path source = tmp.resolve("video.bin");
    byte[] block = new byte[MIB];
    Random random = new Random(3);
    try (OutputStream out = Files.newOutputStream(source)) {
      for (int i = 0; i < size / MIB; i++) {
        random.nextBytes(block);
        out.write(block);
      }
    }
    try (PairedDaemons d = PairedDaemons.start(tmp);
         Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
      ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
      s.activate().get(30, TimeUnit.SECONDS);
      long base = d.proxy.bytesForwarded();
      FileTransfer t = s.transferFile(source, Map.of("clip", 1));
      Path incoming = TetherPaths.dataDir(d.companion.home()).resolve("connectivity").resolve("in");
      Path part = incoming.resolve(t.id() + ".part");
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(2))
          .until(() -> d.proxy.bytesForwarded() - base >= 16L * MIB);
      t.cancel();
      assertThat(s.outstandingFileTransfers()).isEmpty();
      // the paired device dropped what it had received, and never stored the file for its app
      await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(part));
      assertThat(incoming.resolve(t.id())).doesNotExist();
      // the sender stopped sending: far less than the file crossed the link
      long settled = d.proxy.bytesForwarded();
      await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> d.proxy.bytesForwarded() - settled < MIB);
      assertThat(d.proxy.bytesForwarded() - base).isLessThan(size / 2);
    }
  }

  @Test
  void partlyReceivedFilesUntouchedForAWeekAreDropped() throws Exception {
    Path home = tmp.resolve("home");
    Path incoming = TetherPaths.dataDir(home).resolve("connectivity").resolve("in");
    Files.createDirectories(incoming);
    Path old = Files.write(incoming.resolve("0199abcd-old.part"), new byte[4096]);
    Files.setLastModifiedTime(old, FileTime.from(Instant.now().minus(Duration.ofDays(8))));
    Path recent = Files.write(incoming.resolve("0199abcd-recent.part"), new byte[4096]);
    Files.setLastModifiedTime(recent, FileTime.from(Instant.now().minus(Duration.ofDays(2))));
    try (DaemonProcess daemon = DaemonProcess.start(home)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(old));
      assertThat(recent).exists(); // its sender may still come back and resume it
    }
  }
}
