package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A file is captured when the app's call returns: what the app does to it afterwards does not reach the counterpart. */
class FileCaptureTest {
  static final String APP = "com.example.photos";

  @TempDir Path tmp;

  @Test
  void aFileOverwrittenInPlaceAndDeletedRightAfterTheCallArrivesAsItWasAtTheCall() throws Exception {
    long size = 96L * 1024 * 1024;
    Path source = tmp.resolve("clip.mov");
    String expected = new GeneratedContent(11, size).writeTo(source);
    try (PairedDaemons d = PairedDaemons.start(tmp);
         Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
      Path out = tmp.resolve("received.jsonl");
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", tmp.resolve("kept").toString());
      ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
      s.activate().get(30, TimeUnit.SECONDS);
      FileTransfer t = s.transferFile(source, Map.of("take", 2));
      // the same inode, every byte changed, then shortened and removed: none of it may reach the counterpart
      byte[] other = new byte[1024 * 1024];
      try (FileChannel ch = FileChannel.open(source, StandardOpenOption.WRITE)) {
        Random r = new Random(99);
        for (long at = 0; at < size; at += other.length) {
          r.nextBytes(other);
          ch.write(ByteBuffer.wrap(other), at);
        }
        ch.truncate(size / 3);
      }
      Files.delete(source);
      assertThat(t.size()).isEqualTo(size);
      await().atMost(Duration.ofSeconds(120)).until(() -> ReceiverProcess.lines(out).size() == 1);
      receiver.close();
      JsonNode line = Json.parse(ReceiverProcess.lines(out).get(0));
      Path kept = Path.of(line.path("path").asText());
      assertThat(Files.size(kept)).isEqualTo(size);
      assertThat(GeneratedContent.sha256(kept)).isEqualTo(expected);
      assertThat(line.path("sha256").asText()).isEqualTo(expected);
      await().atMost(Duration.ofSeconds(30)).until(() -> s.outstandingFileTransfers().isEmpty());
      try (var left = Files.list(d.primary.home().resolve("data/connectivity/out"))) {
        assertThat(left.toList()).as("the sender's copy is gone once the counterpart stored the file").isEmpty();
      }
    }
  }

  @Test
  void aTransferWhoseCaptureWasCutShortByACrashIsDroppedOnRestartAndOthersStay() throws Exception {
    Path first = tmp.resolve("first.bin");
    Path second = tmp.resolve("second.bin");
    new GeneratedContent(1, 3L * 1024 * 1024).writeTo(first);
    new GeneratedContent(2, 3L * 1024 * 1024).writeTo(second);
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      d.proxy.block(true);
      String kept;
      String cut;
      try (Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
        s.activate().get(30, TimeUnit.SECONDS);
        kept = s.transferFile(first, Map.of()).id();
        cut = s.transferFile(second, Map.of()).id();
        assertThat(s.outstandingFileTransfers()).extracting(FileTransfer::id).containsExactly(kept, cut);
      }
      d.primary.kill9();
      // what a daemon killed half-way through capturing `cut` leaves behind: the marker beside a partial copy
      Path outbox = d.primary.home().resolve("data/connectivity/out");
      Files.createFile(outbox.resolve(cut + ".copying"));
      try (FileChannel ch = FileChannel.open(outbox.resolve(cut), StandardOpenOption.WRITE)) {
        ch.truncate(1024 * 1024);
      }
      d.primary.start();
      try (Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
        s.activate().get(30, TimeUnit.SECONDS);
        assertThat(s.outstandingFileTransfers()).extracting(FileTransfer::id).containsExactly(kept);
      }
      try (var left = Files.list(outbox)) {
        assertThat(left.map(p -> p.getFileName().toString()).toList()).containsExactly(kept);
      }
      assertThat(Files.readString(d.primary.home().resolve("logs/tetherd.log"))).contains("dropping file transfer " + cut);

      Path out = tmp.resolve("received.jsonl");
      d.proxy.block(false);
      ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", tmp.resolve("kept").toString());
      await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() == 1);
      receiver.close();
      assertThat(Path.of(Json.parse(ReceiverProcess.lines(out).get(0)).path("path").asText()).getFileName().toString())
          .isEqualTo("first.bin");
    }
  }

  @Test
  void aFullDiskOnTheSenderFailsTheCallWithATypedErrorAndLeavesNothingQueued() throws Exception {
    Path primaryHome = tmp.resolve("primary");
    Files.createDirectories(primaryHome);
    Assumptions.assumeTrue(Tmpfs.mount(primaryHome, "32m"), "mounting a tmpfs needs root and permission here");
    try {
      Path big = tmp.resolve("archive.bin");
      new GeneratedContent(5, 48L * 1024 * 1024).writeTo(big);
      Path small = tmp.resolve("note.bin");
      String expected = new GeneratedContent(6, 2L * 1024 * 1024).writeTo(small);
      try (PairedDaemons d = PairedDaemons.start(tmp);
           Tether sender = Tether.connect(APP, TetherOptions.defaults().home(d.primary.home()).startDaemon(false))) {
        ConnectivitySession s = sender.connectivity(new ConnectivityDelegate() {});
        s.activate().get(30, TimeUnit.SECONDS);
        assertThatThrownBy(() -> s.transferFile(big, Map.of())).isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
          assertThat(e.getMessage()).contains("no space to snapshot").contains(big.toString());
        });
        assertThat(s.outstandingFileTransfers()).as("the half-made transfer is gone").isEmpty();
        try (var left = Files.list(d.primary.home().resolve("data/connectivity/out"))) {
          assertThat(left.toList()).as("no partial copy, no marker").isEmpty();
        }

        Path out = tmp.resolve("received.jsonl");
        ReceiverProcess receiver = ReceiverProcess.start(d.companion.home(), APP, out, "--files", tmp.resolve("kept").toString());
        s.transferFile(small, Map.of());
        await().atMost(Duration.ofSeconds(60)).until(() -> ReceiverProcess.lines(out).size() == 1);
        receiver.close();
        JsonNode line = Json.parse(ReceiverProcess.lines(out).get(0));
        assertThat(Path.of(line.path("path").asText()).getFileName().toString()).isEqualTo("note.bin");
        assertThat(line.path("sha256").asText()).isEqualTo(expected);
      }
    } finally {
      Tmpfs.unmount(primaryHome);
    }
  }
}
