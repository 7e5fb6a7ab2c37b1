package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.TransferError;
import dev.tether.TransferState;
import dev.tether.UrlSession;
import dev.tether.daemon.Tetherd;
import dev.tether.daemon.internal.DaemonOptions;
import dev.tether.daemon.internal.transfer.TransferService;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A suspend that arrives in the instant between a download's last byte and the record of its completion: the
 * finished bytes are kept and the transfer completes, without fetching the body a second time. A real daemon (run
 * in this JVM so that it can be held in exactly that instant), its real socket and store, and a real HTTP server.
 */
class TransferSuspendAtCompletionTest {
  static final long MIB = 1024 * 1024;
  @TempDir Path tmp;

  /** Holds each finished download, once its file is in place, until the test releases it. */
  static final class Hold implements LongConsumer {
    final AtomicReference<CountDownLatch> reached = new AtomicReference<>(new CountDownLatch(1));
    final AtomicReference<CountDownLatch> release = new AtomicReference<>(new CountDownLatch(1));

    @Override
    public void accept(long id) {
      CountDownLatch gate = release.get();
      reached.get().countDown();
      try {
        gate.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void rearm() {
      reached.set(new CountDownLatch(1));
      release.set(new CountDownLatch(1));
    }
  }

  @Test
  void aSuspendBetweenTheLastByteAndTheCompletionKeepsTheBytesAndTheTransferCompletes() throws Exception {
    Hold hold = new Hold();
    Path home = tmp.resolve("home");
    Path dest = tmp.resolve("large.bin");
    try (TestHttpServer server = new TestHttpServer();
        Tetherd daemon = Tetherd.start(DaemonOptions.builder(home).extra(TransferService.BEFORE_RECORDING_FINISHED, hold).build());
        Tether tether = Tether.connect("com.example.suspend", TetherOptions.defaults().home(home).startDaemon(false))) {
      TestHttpServer.Resource small = server.file("/small.bin", 256 * 1024, 71);
      TestHttpServer.Resource large = server.file("/large.bin", 8 * MIB, 72);
      RecordingDelegate d = new RecordingDelegate();
      UrlSession session = tether.urlSession(SessionConfiguration.background("suspend-at-completion").build(), d);

      // a small body handed to the app
      DownloadTransfer first = session.download(server.url("/small.bin")).start();
      assertThat(hold.reached.get().await(30, TimeUnit.SECONDS)).as("the download reached its completion").isTrue();
      first.suspend();
      hold.release.get().countDown();
      Optional<TransferError> error = d.completion(first.id()).get(30, TimeUnit.SECONDS);
      assertThat(error).isEmpty();
      assertThat(d.sha256(first.id())).isEqualTo(small.content().sha256());
      assertThat(first.state()).isEqualTo(TransferState.COMPLETED);

      // a larger body that tetherd moves to its destination itself
      hold.rearm();
      DownloadTransfer second = session.download(server.url("/large.bin")).destination(dest).start();
      assertThat(hold.reached.get().await(30, TimeUnit.SECONDS)).as("the download reached its completion").isTrue();
      second.suspend();
      hold.release.get().countDown();
      assertThat(d.completion(second.id()).get(30, TimeUnit.SECONDS)).isEmpty();
      assertThat(GeneratedContent.sha256(dest)).isEqualTo(large.content().sha256());

      assertThat(server.requests("/small.bin")).as("the body was not fetched again").hasSize(1);
      assertThat(server.requests("/large.bin")).as("the body was not fetched again").hasSize(1);
      assertThat(d.calls("completed")).hasSize(2);
      assertThat(d.calls("downloadFinished")).hasSize(2);
    }
  }
}
