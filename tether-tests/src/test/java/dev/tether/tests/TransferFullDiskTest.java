package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.DownloadTransfer;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.TransferError;
import dev.tether.UrlSession;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk while a background download runs: the transfer ends once with {@code INSUFFICIENT_SPACE} and a message
 * that says where to free space, its partial file is removed, and the daemon and its store go on working. Real tmpfs
 * mounts (root only), a real daemon process and a real HTTP server.
 */
class TransferFullDiskTest {
  static final long MIB = 1024 * 1024;
  @TempDir Path tmp;

  @Test
  void aDownloadThatFillsTheHomeDiskFailsOnceWithInsufficientSpaceAndTheStoreGoesOn() throws Exception {
    Path home = tmp.resolve("home");
    mountTmpfs(home, "16m");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      server.file("/big.bin", 64 * MIB, 91);
      TestHttpServer.Resource small = server.file("/small.bin", 256 * 1024, 92);
      long freeBefore = Files.getFileStore(home).getUsableSpace();
      try (Tether tether = Tether.connect("com.example.fulldisk", TetherOptions.defaults().home(home).startDaemon(false))) {
        RecordingDelegate d = new RecordingDelegate();
        UrlSession session = tether.urlSession(SessionConfiguration.background("full-disk").requestTimeout(Duration.ofSeconds(5))
            .resourceTimeout(Duration.ofSeconds(60)).build(), d);
        DownloadTransfer big = session.download(server.url("/big.bin")).start();

        Optional<TransferError> error = d.completion(big.id()).get(30, TimeUnit.SECONDS);
        assertThat(error).isPresent();
        assertThat(error.get().code()).as(error.get().message()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
        assertThat(error.get().message()).contains("free").contains(home.toString()).contains("MiB");
        assertThat(daemon.isAlive()).isTrue();
        assertThat(d.calls("downloadFinished")).isEmpty();
        assertThat(server.requests("/big.bin")).as("a full disk is not retried").hasSize(1);

        // the partial file is gone and its space came back
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(partFiles(home)).isEmpty());
        assertThat(Files.getFileStore(home).getUsableSpace()).isGreaterThan(freeBefore - 2 * MIB);

        // the store still works: a small download in the same home completes
        DownloadTransfer next = session.download(server.url("/small.bin")).start();
        assertThat(d.completion(next.id()).get(30, TimeUnit.SECONDS)).isEmpty();
        assertThat(d.sha256(next.id())).isEqualTo(small.content().sha256());
        await().atMost(Duration.ofSeconds(10)).until(() -> d.calls("eventsFinished").size() >= 1);
        assertThat(d.calls("completed")).filteredOn(c -> c.transferId() == big.id()).hasSize(1);

        Cli.Result list = Cli.run(home, "transfers", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        JsonNode failed = find(list, big.id());
        assertThat(failed.path("state").asText()).isEqualTo("COMPLETED");
        assertThat(failed.path("error").path("code").asText()).isEqualTo("INSUFFICIENT_SPACE");
        assertThat(failed.path("error").path("message").asText()).isEqualTo(error.get().message());
        assertThat(find(list, next.id()).path("error").isMissingNode() || find(list, next.id()).path("error").isNull()).isTrue();
      }
    } finally {
      umount(home);
    }
  }

  @Test
  void aDestinationOnAFullDiskFailsWithInsufficientSpaceAndLeavesNothingBehind() throws Exception {
    Path home = tmp.resolve("home");
    Path target = tmp.resolve("target");
    mountTmpfs(target, "1m");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      server.file("/four.bin", 4 * MIB, 93);
      TestHttpServer.Resource fits = server.file("/fits.bin", 64 * 1024, 94);
      Path dest = target.resolve("four.bin");
      try (Tether tether = Tether.connect("com.example.fulldisk", TetherOptions.defaults().home(home).startDaemon(false))) {
        RecordingDelegate d = new RecordingDelegate();
        UrlSession session = tether.urlSession(SessionConfiguration.background("full-destination").requestTimeout(Duration.ofSeconds(5))
            .resourceTimeout(Duration.ofSeconds(60)).build(), d);
        DownloadTransfer t = session.download(server.url("/four.bin")).destination(dest).start();

        Optional<TransferError> error = d.completion(t.id()).get(30, TimeUnit.SECONDS);
        assertThat(error).isPresent();
        assertThat(error.get().code()).as(error.get().message()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
        assertThat(error.get().message()).contains("free").contains(target.toString()).contains("MiB");
        assertThat(daemon.isAlive()).isTrue();
        assertThat(dest).doesNotExist();
        try (Stream<Path> left = Files.list(target)) {
          assertThat(left).as("no half-copied file is left beside the destination").isEmpty();
        }
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(partFiles(home)).isEmpty());

        Path fitsDest = target.resolve("fits.bin");
        DownloadTransfer ok = session.download(server.url("/fits.bin")).destination(fitsDest).start();
        assertThat(d.completion(ok.id()).get(30, TimeUnit.SECONDS)).isEmpty();
        assertThat(GeneratedContent.sha256(fitsDest)).isEqualTo(fits.content().sha256());
        assertThat(d.calls("completed")).filteredOn(c -> c.transferId() == t.id()).hasSize(1);

        Cli.Result list = Cli.run(home, "transfers", "--json");
        assertThat(find(list, t.id()).path("error").path("code").asText()).isEqualTo("INSUFFICIENT_SPACE");
      }
    } finally {
      umount(target);
    }
  }

  @Test
  void aFullHomeRefusesNewTransfersWithATypedErrorAndWorksAgainOnceSpaceIsFreed() throws Exception {
    Path home = tmp.resolve("home");
    mountTmpfs(home, "16m");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource small = server.file("/small.bin", 128 * 1024, 95);
      try (Tether tether = Tether.connect("com.example.fulldisk", TetherOptions.defaults().home(home).startDaemon(false))) {
        RecordingDelegate d = new RecordingDelegate();
        UrlSession session = tether.urlSession(SessionConfiguration.background("full-home").requestTimeout(Duration.ofSeconds(5))
            .resourceTimeout(Duration.ofSeconds(60)).build(), d);
        DownloadTransfer before = session.download(server.url("/small.bin")).start();
        assertThat(d.completion(before.id()).get(30, TimeUnit.SECONDS)).isEmpty();

        Path filler = home.resolve("filler");
        fill(filler);
        Optional<TransferError> outcome;
        try {
          DownloadTransfer t = session.download(server.url("/small.bin")).start();
          outcome = d.completion(t.id()).get(30, TimeUnit.SECONDS);
        } catch (TetherException e) {
          outcome = Optional.of(new TransferError(e.code(), e.getMessage()));
        }
        // SQLite may still find room in its write-ahead log; when it cannot, the error is typed and says what to do
        if (outcome.isPresent()) {
          assertThat(outcome.get().code()).as(outcome.get().message()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
          assertThat(outcome.get().message()).contains("free").contains(home.toString());
        }
        assertThat(daemon.isAlive()).isTrue();

        Files.delete(filler);
        DownloadTransfer after = session.download(server.url("/small.bin")).start();
        assertThat(d.completion(after.id()).get(30, TimeUnit.SECONDS)).isEmpty();
        assertThat(d.sha256(after.id())).isEqualTo(small.content().sha256());
        Cli.Result list = Cli.run(home, "transfers", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(find(list, before.id()).path("state").asText()).isEqualTo("COMPLETED");
        assertThat(find(list, after.id()).path("state").asText()).isEqualTo("COMPLETED");
      }
    } finally {
      umount(home);
    }
  }

  @Test
  void aDownloadWhoseLengthExceedsTheFreeSpaceFailsBeforeWritingNamingTheFolderAndTheBytesNeeded() throws Exception {
    Path home = tmp.resolve("home");
    mountTmpfs(home, "16m");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      server.file("/large.bin", 64 * MIB, 96);
      TestHttpServer.Resource small = server.file("/small.bin", 256 * 1024, 97);
      Path transfers = home.resolve("data/transfers");
      try (Tether tether = Tether.connect("com.example.fulldisk", TetherOptions.defaults().home(home).startDaemon(false))) {
        RecordingDelegate d = new RecordingDelegate();
        UrlSession session = tether.urlSession(SessionConfiguration.background("too-large").requestTimeout(Duration.ofSeconds(5))
            .resourceTimeout(Duration.ofSeconds(60)).build(), d);
        long freeBefore = Files.getFileStore(home).getUsableSpace();
        DownloadTransfer t = session.download(server.url("/large.bin")).start();

        Optional<TransferError> error = d.completion(t.id()).get(30, TimeUnit.SECONDS);
        assertThat(error).isPresent();
        assertThat(error.get().code()).as(error.get().message()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
        // the check made from Content-Length, before the body is written (a full disk mid-body says "after N MiB")
        assertThat(error.get().message()).contains("it needs 64.0 MiB (" + 64 * MIB + " bytes) in " + transfers)
            .contains("free at least").doesNotContain("after");
        assertThat(server.requests("/large.bin")).as("a lack of space is not retried").hasSize(1);
        assertThat(Files.getFileStore(home).getUsableSpace()).isGreaterThan(freeBefore - 2 * MIB);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(partFiles(home)).isEmpty());

        DownloadTransfer next = session.download(server.url("/small.bin")).start();
        assertThat(d.completion(next.id()).get(30, TimeUnit.SECONDS)).isEmpty();
        assertThat(d.sha256(next.id())).isEqualTo(small.content().sha256());
        assertThat(d.calls("completed")).filteredOn(c -> c.transferId() == t.id()).hasSize(1);
        assertThat(daemon.isAlive()).isTrue();
      }
    } finally {
      umount(home);
    }
  }

  @Test
  void anExpectedBytesHintLargerThanTheFreeSpaceIsRefusedAtCreationAndNothingIsStored() throws Exception {
    Path home = tmp.resolve("home");
    Path target = tmp.resolve("target");
    mountTmpfs(home, "16m");
    mountTmpfs(target, "1m");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      TestHttpServer.Resource small = server.file("/hinted.bin", 128 * 1024, 98);
      try (Tether tether = Tether.connect("com.example.fulldisk", TetherOptions.defaults().home(home).startDaemon(false))) {
        RecordingDelegate d = new RecordingDelegate();
        UrlSession session = tether.urlSession(SessionConfiguration.background("hinted").build(), d);

        assertThatThrownBy(() -> session.download(server.url("/hinted.bin")).expectedBytes(64 * MIB).start())
            .isInstanceOfSatisfying(TetherException.class, e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
              assertThat(e.getMessage()).contains("64.0 MiB").contains(home.resolve("data/transfers").toString()).contains("free at least");
            });
        // the home has room, the destination's disk (another file system: the file is copied there) does not
        assertThat(Files.getFileStore(target)).isNotEqualTo(Files.getFileStore(home));
        assertThatThrownBy(() -> session.download(server.url("/hinted.bin")).expectedBytes(4 * MIB)
            .destination(target.resolve("hinted.bin")).start())
            .isInstanceOfSatisfying(TetherException.class, e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.INSUFFICIENT_SPACE);
              assertThat(e.getMessage()).contains("4.0 MiB").contains(target.toString()).contains("another disk");
            });
        assertThat(server.requests("/hinted.bin")).as("nothing was fetched").isEmpty();
        assertThat(session.allTransfers()).as("nothing was stored").isEmpty();

        DownloadTransfer ok = session.download(server.url("/hinted.bin")).expectedBytes(128 * 1024).start();
        assertThat(d.completion(ok.id()).get(30, TimeUnit.SECONDS)).isEmpty();
        assertThat(d.sha256(ok.id())).isEqualTo(small.content().sha256());
      }
    } finally {
      umount(target);
      umount(home);
    }
  }

  /** Writes zeros to {@code file} until the disk is full. */
  private static void fill(Path file) throws IOException {
    java.nio.ByteBuffer zeros = java.nio.ByteBuffer.allocate(64 * 1024);
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE_NEW,
        java.nio.file.StandardOpenOption.WRITE)) {
      while (true) {
        zeros.clear();
        ch.write(zeros);
      }
    } catch (IOException e) {
      if (!String.valueOf(e.getMessage()).contains("No space left on device")) {
        throw e;
      }
    }
  }

  private static List<Path> partFiles(Path home) throws IOException {
    Path dir = home.resolve("data/transfers");
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".part")).toList();
    }
  }

  private static JsonNode find(Cli.Result list, long id) {
    for (JsonNode t : Json.parse(list.out()).path("transfers")) {
      if (t.path("id").asLong() == id) {
        return t;
      }
    }
    throw new AssertionError("transfer " + id + " not listed:\n" + list);
  }

  /** Mounts a tmpfs of this size on {@code dir}; skips the test where that is not permitted (not root, no mount). */
  private static void mountTmpfs(Path dir, String size) throws Exception {
    Files.createDirectories(dir);
    int exit;
    try {
      Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", "tmpfs", dir.toString())
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      exit = p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    } catch (IOException e) {
      exit = -1;
    }
    assumeTrue(exit == 0, "mounting a tmpfs needs root and a permitted mount(2); skipped here");
  }

  private static void umount(Path dir) throws Exception {
    Process p = new ProcessBuilder("umount", "-l", dir.toString()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
  }
}
