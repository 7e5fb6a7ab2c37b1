package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tether.ActivationState;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.UserInfoTransfer;
import dev.tether.tests.support.PairedDaemons;
import java.time.Duration;
import java.time.Instant;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The session API between two real daemons: payload checks, context rule, complication budget, messages. */
class ConnectivitySessionTest {
  static final String APP = "com.example.weather";

  @TempDir Path tmp;

  static Tether app(Path home) {
    return Tether.connect(APP, TetherOptions.defaults().home(home).startDaemon(false));
  }

  static final class Recorder implements ConnectivityDelegate {
    final List<Map<String, Object>> userInfos = new CopyOnWriteArrayList<>();
    final List<Map<String, Object>> contexts = new CopyOnWriteArrayList<>();
    final List<String> finished = new CopyOnWriteArrayList<>();
    final List<Map<String, Object>> messages = new CopyOnWriteArrayList<>();

    @Override
    public void userInfoReceived(ConnectivitySession s, Map<String, Object> userInfo) {
      userInfos.add(userInfo);
    }

    @Override
    public void applicationContextReceived(ConnectivitySession s, Map<String, Object> c) {
      contexts.add(c);
    }

    @Override
    public void userInfoTransferFinished(ConnectivitySession s, UserInfoTransfer t, Optional<TetherException> error) {
      finished.add(t.id());
    }

    @Override
    public Map<String, Object> messageReceivedWithReply(ConnectivitySession s, Map<String, Object> message) {
      messages.add(message);
      return Map.of("echo", message.get("q"));
    }
  }

  @Test
  void payloadsAreCheckedAtTheCallWithThePathOfTheOffendingValue() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp); Tether t = app(d.primary.home())) {
      ConnectivitySession s = t.connectivity(new Recorder());
      assertThatThrownBy(() -> s.transferUserInfo(Map.of("a", 1))).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.SESSION_NOT_ACTIVATED));
      s.activate().get(30, TimeUnit.SECONDS);
      assertThatThrownBy(() -> s.transferUserInfo(Map.of("outer", List.of(1, Map.of("bad", new Object())))))
          .isInstanceOfSatisfying(TetherException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES);
            assertThat(e.getMessage()).contains("/outer[1]/bad").contains("java.lang.Object");
          });
      assertThatThrownBy(() -> s.transferUserInfo(Map.of("big", new byte[70 * 1024])))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE));
      assertThatThrownBy(() -> s.updateApplicationContext(Map.of("big", "x".repeat(300 * 1024))))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE));
      assertThatThrownBy(() -> s.transferFile(tmp.resolve("missing.bin"), Map.of()))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.FILE_NOT_FOUND));
      assertThat(s.outstandingUserInfoTransfers()).isEmpty();
      assertThat(s.outstandingFileTransfers()).isEmpty();
    }
  }

  @Test
  void typesSurviveTheTripAndFinishedIsReported() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp); Tether sender = app(d.primary.home()); Tether receiver = app(d.companion.home())) {
      Recorder got = new Recorder();
      ConnectivitySession r = receiver.connectivity(got);
      r.activate().get(30, TimeUnit.SECONDS);
      Recorder sent = new Recorder();
      ConnectivitySession s = sender.connectivity(sent);
      s.activate().get(30, TimeUnit.SECONDS);
      Instant when = Instant.parse("2026-01-02T03:04:05.678Z");
      Map<String, Object> info = Map.of("s", "text", "b", true, "i", 7, "l", 1L << 40, "d", 2.5, "t", when,
          "x", new byte[] {1, 2, 3}, "list", List.of("a", 1), "map", Map.of("k", "v"));
      UserInfoTransfer t = s.transferUserInfo(info);
      await().atMost(Duration.ofSeconds(30)).until(() -> got.userInfos.size() == 1);
      Map<String, Object> back = got.userInfos.get(0);
      assertThat(back.get("i")).isEqualTo(7);
      assertThat(back.get("l")).isEqualTo(1L << 40);
      assertThat(back.get("d")).isEqualTo(2.5);
      assertThat(back.get("t")).isEqualTo(when);
      assertThat((byte[]) back.get("x")).containsExactly(1, 2, 3);
      assertThat(back.get("list")).isEqualTo(List.of("a", 1));
      assertThat(back.get("map")).isEqualTo(Map.of("k", "v"));
      await().atMost(Duration.ofSeconds(30)).until(() -> sent.finished.contains(t.id()));
      assertThat(s.outstandingUserInfoTransfers()).isEmpty();
      await().atMost(Duration.ofSeconds(30)).until(() -> !r.hasContentPending());
      assertThat(r.drained().get(30, TimeUnit.SECONDS)).isSameAs(r);

      // live messages with a reply, while reachable
      await().atMost(Duration.ofSeconds(30)).until(s::isReachable);
      assertThat(s.sendMessage(Map.of("q", "ping"), Duration.ofSeconds(10)).get(30, TimeUnit.SECONDS)).isEqualTo(Map.of("echo", "ping"));
      assertThat(got.messages).containsExactly(Map.of("q", "ping"));
    }
  }

  @Test
  void contextSetAHundredTimesWhileUnreachableArrivesOnceAsTheLast() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp); Tether sender = app(d.primary.home())) {
      ConnectivitySession s = sender.connectivity(new Recorder());
      s.activate().get(30, TimeUnit.SECONDS);
      d.proxy.block(true);
      await().atMost(Duration.ofSeconds(30)).until(() -> !PairedDaemons.connected(d.primary));
      for (int i = 1; i <= 100; i++) {
        assertThat(s.updateApplicationContext(Map.of("version", i))).isTrue();
      }
      assertThat(s.updateApplicationContext(Map.of("version", 100))).as("identical context sends nothing").isFalse();
      assertThat(s.applicationContext()).isEqualTo(Map.of("version", 100));
      d.proxy.block(false);
      d.awaitLinked();
      try (Tether receiver = app(d.companion.home())) {
        Recorder got = new Recorder();
        ConnectivitySession r = receiver.connectivity(got);
        r.activate().get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(30)).until(() -> got.contexts.size() >= 1 && !r.hasContentPending());
        assertThat(got.contexts).containsExactly(Map.of("version", 100));
        assertThat(r.receivedApplicationContext()).isEqualTo(Map.of("version", 100));
      }
    }
  }

  @Test
  void complicationInfoBeyondFiftyADayFallsBackToUserInfo() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp); Tether sender = app(d.primary.home()); Tether receiver = app(d.companion.home())) {
      Recorder got = new Recorder();
      ConnectivitySession r = receiver.connectivity(got).complicationEnabled(true);
      r.activate().get(30, TimeUnit.SECONDS);
      ConnectivitySession s = sender.connectivity(new Recorder());
      s.activate().get(30, TimeUnit.SECONDS);
      await().atMost(Duration.ofSeconds(30)).until(() -> s.isComplicationEnabled());
      assertThat(s.remainingComplicationUserInfoTransfers()).isEqualTo(50);
      for (int i = 0; i < 50; i++) {
        assertThat(s.transferCurrentComplicationUserInfo(Map.of("i", i)).isCurrentComplicationInfo()).isTrue();
      }
      assertThat(s.remainingComplicationUserInfoTransfers()).isZero();
      UserInfoTransfer fallback = s.transferCurrentComplicationUserInfo(Map.of("i", 50));
      assertThat(fallback.isCurrentComplicationInfo()).isFalse();
      assertThat(s.remainingComplicationUserInfoTransfers()).isZero();
      await().atMost(Duration.ofSeconds(30)).until(() -> got.userInfos.size() == 51);
      // the companion cannot send complication info
      assertThatThrownBy(() -> r.transferCurrentComplicationUserInfo(Map.of("x", 1)))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER));
      assertThat(r.activationState()).isEqualTo(ActivationState.ACTIVATED);
    }
  }
}
