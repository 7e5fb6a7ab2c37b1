package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Live messages whose answer cannot come fail promptly, each with the error that says why. */
class MessageFailuresTest {
  static final String APP = "com.example.workout";

  @TempDir Path tmp;

  private static Tether app(Path home) {
    return Tether.connect(APP, TetherOptions.defaults().home(home).startDaemon(false));
  }

  /** The companion's app, running, whose delegate holds every message until {@code release} opens. */
  private static ConnectivitySession stuckCounterpart(Tether watch, AtomicInteger received, CountDownLatch release) throws Exception {
    ConnectivitySession s = watch.connectivity(new ConnectivityDelegate() {
      @Override
      public Map<String, Object> messageReceivedWithReply(ConnectivitySession session, Map<String, Object> message) {
        hold();
        return Map.of();
      }

      @Override
      public void messageDataReceived(ConnectivitySession session, byte[] data) {
        hold();
      }

      private void hold() {
        received.incrementAndGet();
        try {
          release.await(120, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    s.activate().get(30, TimeUnit.SECONDS);
    return s;
  }

  @Test
  void aLinkThatDropsBeforeTheReplyFailsTheMessageAtOnce() throws Exception {
    AtomicInteger received = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    try (PairedDaemons d = PairedDaemons.start(tmp); Tether watch = app(d.companion.home()); Tether phone = app(d.primary.home())) {
      stuckCounterpart(watch, received, release);
      ConnectivitySession fromPhone = phone.connectivity(new ConnectivityDelegate() {});
      fromPhone.activate().get(30, TimeUnit.SECONDS);
      await().atMost(Duration.ofSeconds(30)).until(fromPhone::isReachable);
      Future<Map<String, Object>> reply = fromPhone.sendMessage(Map.of("lap", 3), Duration.ofSeconds(120));
      await().atMost(Duration.ofSeconds(30)).until(() -> received.get() == 1);
      long t0 = System.nanoTime();
      d.proxy.block(true);
      assertThatThrownBy(() -> reply.get(60, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
          .cause().isInstanceOf(TetherException.class)
          .satisfies(e -> assertThat(((TetherException) e).code()).isEqualTo(ErrorCode.NOT_REACHABLE))
          .hasMessageContaining("dropped");
      // told when the link went (heartbeat or reset), not after the 120 s reply timeout
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(30));
      release.countDown();
    }
  }

  @Test
  void aMessageTheCounterpartDoesNotTakeInTimeTimesOut() throws Exception {
    AtomicInteger received = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    try (PairedDaemons d = PairedDaemons.start(tmp); Tether watch = app(d.companion.home());
         DaemonClient phone = d.primary.client(APP)) {
      stuckCounterpart(watch, received, release);
      phone.call("cx.activate", Json.object());
      await().atMost(Duration.ofSeconds(30)).until(() -> phone.call("cx.state", Json.object()).path("reachable").asBoolean());
      // the library's message without a reply waits 30 s; the protocol lets this test ask for 1.5 s
      ObjectNode m = Json.object();
      m.put("data", java.util.Base64.getEncoder().encodeToString(new byte[] {4}));
      m.put("replyExpected", false);
      m.put("timeoutMillis", 1500);
      assertThatThrownBy(() -> phone.call("cx.message", m)).isInstanceOf(TetherException.class)
          .satisfies(e -> assertThat(((TetherException) e).code()).isEqualTo(ErrorCode.TRANSFER_TIMED_OUT))
          .hasMessageContaining("did not take the message within 1500 ms");
      assertThat(received.get()).isEqualTo(1);
      release.countDown();
    }
  }
}
