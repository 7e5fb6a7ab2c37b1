package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.FileTransfer;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.protocol.Json;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.PairedDaemons;
import dev.tether.tests.support.ReceiverProcess;
import dev.tether.tests.support.Tmpfs;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A receiver whose disk is full refuses a file for now: the sender keeps it queued, is told why, and retries. */
class ReceiverFullDiskTest {
  static final String APP = "com.example.photos";

  @TempDir Path tmp;

  @Test
  void aFullDiskOnTheReceiverHoldsTheFileBackWithATypedErrorUntilSpaceIsFreed() throws Exception {
    Path companionHome = tmp.resolve("companion");
    Files.createDirectories(companionHome);
    Assumptions.assumeTrue(Tmpfs.mount(companionHome, "24m"), "mounting a tmpfs needs root");
    try {
      long size = 40L * 1024 * 1024;
      Path source = tmp.resolve("video.bin");
      String expected = new GeneratedContent(7, size).writeTo(source);
      List<TetherException> blocked = new CopyOnWriteArrayList<>();
      List<Optional<TetherException>> finished = new CopyOnWriteArrayList<>();
      try (PairedDaemons d = PairedDaemons.start(tmp);
           Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        Path out = tmp.resolve("received.jsonl");
        ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", tmp.resolve("kept").toString());
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {
          @Override
          public void fileTransferBlocked(ConnectivitySession session, FileTransfer transfer, TetherException error) {
            blocked.add(error);
          }

          @Override
          public void fileTransferFinished(ConnectivitySession session, FileTransfer transfer, Optional<TetherException> error) {
            finished.add(error);
          }
        });
        s.activate().get(30, TimeUnit.SECONDS);
        long connections = d.proxy.connections();
        FileTransfer t = s.transferFile(source, Map.of("take", 7));

        await().atMost(Duration.ofSeconds(15)).until(() -> blocked.size() >= 2);
        TetherException error = blocked.get(0);
        assertThat(error.code()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
        assertThat(error.getMessage()).contains("free space").contains("retried");
        assertThat(t.isTransferring()).isTrue();
        assertThat(t.blockedBy()).map(TetherException::code).contains(ErrorCode.INSUFFICIENT_SPACE);
        List<FileTransfer> outstanding = s.outstandingFileTransfers();
        assertThat(outstanding).extracting(FileTransfer::id).containsExactly(t.id());
        assertThat(outstanding.get(0).blockedBy()).map(TetherException::code).contains(ErrorCode.INSUFFICIENT_SPACE);
        assertThat(finished).as("held back, not finished").isEmpty();
        assertThat(ReceiverProcess.lines(out)).isEmpty();
        assertThat(d.proxy.connections()).as("the link stays up while the file is refused").isEqualTo(connections);
        assertThat(PairedDaemons.connected(d.primary)).isTrue();

        assertThat(Tmpfs.resize(companionHome, "200m")).isTrue();
        await().atMost(Duration.ofSeconds(30)).until(() -> ReceiverProcess.lines(out).size() == 1);
        receiver.close();
        JsonNode line = Json.parse(ReceiverProcess.lines(out).get(0));
        assertThat(line.path("kind").asText()).isEqualTo("file");
        assertThat(GeneratedContent.sha256(Path.of(line.path("path").asText()))).isEqualTo(expected);
        await().atMost(Duration.ofSeconds(10)).until(() -> finished.size() == 1);
        assertThat(finished.get(0)).isEmpty();
        assertThat(s.outstandingFileTransfers()).isEmpty();
        assertThat(d.proxy.connections()).as("no reconnect loop").isEqualTo(connections);
        assertThat(Files.readString(d.companion.home().resolve("logs/tetherd.log"))).contains("refusing file " + t.id());
      }
    } finally {
      Tmpfs.unmount(companionHome);
    }
  }

  @Test
  void aDiskThatFillsUpDuringAFileResumesFromTheStoredBytesOnceSpaceIsFreed() throws Exception {
    Path companionHome = tmp.resolve("companion");
    Files.createDirectories(companionHome);
    Assumptions.assumeTrue(Tmpfs.mount(companionHome, "240m"), "mounting a tmpfs needs root");
    try {
      long size = 200L * 1024 * 1024;
      Path source = tmp.resolve("library.bin");
      String expected = new GeneratedContent(7, size).writeTo(source);
      List<TetherException> blocked = new CopyOnWriteArrayList<>();
      try (PairedDaemons d = PairedDaemons.start(tmp);
           Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        Path out = tmp.resolve("received.jsonl");
        ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", tmp.resolve("kept").toString());
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {
          @Override
          public void fileTransferBlocked(ConnectivitySession session, FileTransfer transfer, TetherException error) {
            blocked.add(error);
          }
        });
        s.activate().get(30, TimeUnit.SECONDS);
        long connections = d.proxy.connections();
        long base = d.proxy.bytesForwarded();
        FileTransfer t = s.transferFile(source, Map.of());
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5)).until(() -> d.proxy.bytesForwarded() >= base + size / 4);
        Path filler = companionHome.resolve("filler");
        byte[] block = new byte[1024 * 1024];
        try (OutputStream o = Files.newOutputStream(filler)) {
          while (true) {
            o.write(block);
          }
        } catch (IOException full) {
          // the disk is full now
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> !blocked.isEmpty());
        assertThat(blocked.get(0).code()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
        assertThat(blocked.get(0).getMessage()).contains("filled up at byte").contains("resumes");
        assertThat(s.outstandingFileTransfers()).extracting(FileTransfer::id).containsExactly(t.id());
        Files.delete(filler);
        await().atMost(Duration.ofSeconds(30)).until(() -> ReceiverProcess.lines(out).size() == 1);
        receiver.close();
        JsonNode line = Json.parse(ReceiverProcess.lines(out).get(0));
        assertThat(GeneratedContent.sha256(Path.of(line.path("path").asText()))).isEqualTo(expected);
        assertThat(d.proxy.connections()).as("no reconnect loop").isEqualTo(connections);
        assertThat(d.proxy.bytesForwarded() - base).as("resumed, not started over").isLessThan(size + size / 2);
        String log = Files.readString(d.companion.home().resolve("logs/tetherd.log"));
        assertThat(log).contains("resuming file " + t.id());
      }
    } finally {
      Tmpfs.unmount(companionHome);
    }
  }
}
