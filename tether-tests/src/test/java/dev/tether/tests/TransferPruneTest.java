package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.UrlSession;
import dev.tether.testing.TetherTestKit;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Completed transfers stay listed for a day after their events were delivered, then are forgotten (virtual clock). */
class TransferPruneTest {
  @Test
  void completedTransfersAreForgottenAfterADay() throws Exception {
    try (TetherTestKit kit = TetherTestKit.start(); TestHttpServer server = new TestHttpServer();
         Tether app = kit.connect("com.example.prune")) {
      server.file("/p.bin", 64 * 1024, 61);
      RecordingDelegate d = new RecordingDelegate();
      UrlSession s = app.urlSession(SessionConfiguration.background("p").build(), d);
      DownloadTransfer t = s.download(server.url("/p.bin")).start();
      assertThat(d.completion(t.id()).get(30, TimeUnit.SECONDS)).isEmpty();
      await().atMost(Duration.ofSeconds(10)).until(() -> d.calls("eventsFinished").size() == 1);

      kit.clock().advance(Duration.ofHours(2));
      kit.settle();
      assertThat(s.allTransfers()).hasSize(1);
      kit.clock().advance(Duration.ofHours(25));
      await().atMost(Duration.ofSeconds(60)).until(() -> s.allTransfers().isEmpty());
    }
  }
}
