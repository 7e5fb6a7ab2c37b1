package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ActivationState;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A primary with two companions switches the active one; live messages need reachability or wake the primary's app. */
class CompanionsAndMessagesTest {
  static final String APP = "com.example.fitness";

  @TempDir Path tmp;

  static Tether app(Path home) {
    return Tether.connect(APP, TetherOptions.defaults().home(home).startDaemon(false));
  }

  @Test
  void switchingTheActiveCompanionMakesSessionsInactiveThenDeactivated() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp); DaemonProcess second = DaemonProcess.start(tmp.resolve("second"));
         Tether primaryApp = app(d.primary.home())) {
      List<String> events = new CopyOnWriteArrayList<>();
      ConnectivitySession s = primaryApp.connectivity(new ConnectivityDelegate() {
        @Override
        public void sessionBecameInactive(ConnectivitySession session) {
          events.add("inactive " + session.activationState());
        }

        @Override
        public void sessionDeactivated(ConnectivitySession session) {
          events.add("deactivated " + session.activationState());
        }
      });
      s.activate().get(30, TimeUnit.SECONDS);
      String firstPeer;
      try (DaemonClient admin = d.primary.client("dev.tether.cli")) {
        firstPeer = admin.call("cx.peers", Json.object()).path("peers").get(0).path("peer").asText();
        ObjectNode b = Json.object();
        b.put("host", "127.0.0.1");
        ObjectNode offer = admin.call("cx.pair.listen", b);
        try (DaemonClient c = second.client("dev.tether.cli")) {
          ObjectNode cb = Json.object();
          cb.put("address", offer.path("address").asText());
          cb.put("code", offer.path("code").asText());
          c.call("cx.pair.connect", cb);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> events.size() == 2);
        assertThat(events).containsExactly("inactive INACTIVE", "deactivated NOT_ACTIVATED");
        JsonNode peers = admin.call("cx.peers", Json.object()).path("peers");
        assertThat(peers).hasSize(2);
        assertThat(peers.get(0).path("active").asBoolean()).isFalse();
        assertThat(peers.get(1).path("active").asBoolean()).isTrue();
        assertThatThrownBy(() -> s.transferUserInfo(Map.of("a", 1))).isInstanceOfSatisfying(TetherException.class,
            e -> assertThat(e.code()).isEqualTo(ErrorCode.SESSION_NOT_ACTIVATED));

        // activate again: now bound to the new companion; switch back through the CLI's request
        assertThat(s.activate().get(30, TimeUnit.SECONDS)).isEqualTo(ActivationState.ACTIVATED);
        ObjectNode sw = Json.object();
        sw.put("peer", firstPeer.substring(0, 16));
        admin.call("cx.peers.activate", sw);
        await().atMost(Duration.ofSeconds(30)).until(() -> events.size() == 4);
        assertThat(admin.call("cx.peers", Json.object()).path("peers").get(0).path("active").asBoolean()).isTrue();
      }
    }
  }

  @Test
  void messagesNeedAReachableCounterpartButAMessageToThePrimaryWakesItsApp() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp); Tether watch = app(d.companion.home()); Tether phone = app(d.primary.home())) {
      ConnectivitySession fromPhone = phone.connectivity(new ConnectivityDelegate() {});
      fromPhone.activate().get(30, TimeUnit.SECONDS);
      // the companion's app is not running: a message from the primary is refused at once
      assertThatThrownBy(() -> fromPhone.sendMessage(Map.of("hr", 61), Duration.ofSeconds(5)).get(30, TimeUnit.SECONDS))
          .hasCauseInstanceOf(TetherException.class)
          .satisfies(e -> assertThat(((TetherException) e.getCause()).code()).isEqualTo(ErrorCode.NOT_REACHABLE));
      phone.close();

      // the primary's app is registered but not running: a message from the companion launches it and gets a reply
      String launch = JavaProcesses.javaCommand("dev.tether.cli.Main", "--home", d.primary.home().toString(), "receive",
          "--app", APP, "--out", tmp.resolve("phone.jsonl").toString()).stream()
          .map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
      try (DaemonClient admin = d.primary.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("app", APP);
        b.put("launch", launch);
        admin.call("app.register", b);
      }
      ConnectivitySession fromWatch = watch.connectivity(new ConnectivityDelegate() {});
      fromWatch.activate().get(30, TimeUnit.SECONDS);
      await().atMost(Duration.ofSeconds(30)).until(() -> !fromWatch.isReachable() && fromWatch.isPaired());
      Map<String, Object> reply = fromWatch.sendMessage(Map.of("workout", "started"), Duration.ofSeconds(60)).get(90, TimeUnit.SECONDS);
      assertThat(reply).isEqualTo(Map.of());
      try (DaemonClient admin = d.primary.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("app", APP);
        assertThat(admin.call("timeline", b).path("wakes").size()).isGreaterThanOrEqualTo(1);
      }
    }
  }
}
