package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ConnectivityTask;
import dev.tether.DownloadTransfer;
import dev.tether.ErrorCode;
import dev.tether.ReceivedFile;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import dev.tether.UserInfoTransfer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Paired kits over real loopback TLS, a link the kit cuts for real, and forced transfer conditions. */
class PairedKitTest {
  private static final String APP = "com.example.weather";
  private static final Duration WAIT = Duration.ofSeconds(15);

  /** What a counterpart app's connectivity delegate saw. */
  private static final class Recorder implements ConnectivityDelegate {
    final List<Map<String, Object>> userInfos = new CopyOnWriteArrayList<>();
    final List<Map<String, Object>> contexts = new CopyOnWriteArrayList<>();
    final List<String> files = new CopyOnWriteArrayList<>();
    final List<Boolean> reachability = new CopyOnWriteArrayList<>();
    final List<String> finished = new CopyOnWriteArrayList<>();
    final List<Map<String, Object>> messages = new CopyOnWriteArrayList<>();

    @Override
    public void messageReceived(ConnectivitySession session, Map<String, Object> message) {
      messages.add(message);
    }

    @Override
    public void userInfoReceived(ConnectivitySession session, Map<String, Object> userInfo) {
      userInfos.add(userInfo);
    }

    @Override
    public void applicationContextReceived(ConnectivitySession session, Map<String, Object> applicationContext) {
      contexts.add(applicationContext);
    }

    @Override
    public void fileReceived(ConnectivitySession session, ReceivedFile file) {
      try {
        files.add(Files.readString(file.path()) + " " + file.metadata());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    @Override
    public void reachabilityChanged(ConnectivitySession session) {
      reachability.add(session.isReachable());
    }

    @Override
    public void userInfoTransferFinished(ConnectivitySession session, UserInfoTransfer transfer, Optional<TetherException> error) {
      finished.add(error.map(e -> e.code().name()).orElse("ok"));
    }
  }

  @Test
  void userInfoFromThePrimaryLaunchesTheCompanionAppWithAConnectivityTask() throws Exception {
    try (TetherTestKit phone = TetherTestKit.start(); TetherTestKit watch = TetherTestKit.start()) {
      TetherTestKit.pair(phone, watch);
      assertThat(phone.isLinkUp()).isTrue();
      assertThat(watch.isLinkUp()).isTrue();
      Recorder onWatch = new Recorder();
      List<Boolean> pendingWhenCompleted = new CopyOnWriteArrayList<>();
      TestApp watchApp = watch.app(APP).onTask(ConnectivityTask.class, task -> {
        ConnectivitySession cx = watch.app(APP).tether().connectivity(onWatch);
        return cx.activate().thenCompose(state -> cx.drained()).thenAccept(s -> pendingWhenCompleted.add(s.hasContentPending()));
      });
      assertThat(watchApp.isRunning()).isFalse();
      Recorder onPhone = new Recorder();
      try (Tether app = phone.connect(APP)) {
        ConnectivitySession cx = app.connectivity(onPhone);
        cx.activate().get();
        assertThat(cx.isPaired()).isTrue();
        assertThat(cx.isReachable()).isFalse();
        cx.transferUserInfo(Map.of("forecast", "sunny"));
        await().atMost(WAIT).until(() -> watch.timeline(APP).wakes().size() == 1
            && watch.timeline(APP).wakes().get(0).outcome() == WakeOutcome.COMPLETED);
        await().atMost(WAIT).until(() -> onPhone.finished.size() == 1);
      }
      Wake wake = watch.timeline(APP).wakes().get(0);
      assertThat(wake.launched()).isTrue();
      assertThat(wake.tasks()).containsExactly("connectivity");
      assertThat(watchApp.launches()).isEqualTo(1);
      assertThat(onWatch.userInfos).containsExactly(Map.of("forecast", "sunny"));
      assertThat(pendingWhenCompleted).containsExactly(false);
      assertThat(onPhone.finished).containsExactly("ok");
    }
  }

  @Test
  void whileTheLinkIsDroppedTransfersQueueAndAfterRestoreArriveInOrderExactlyOnce(@TempDir Path dir) throws Exception {
    try (TetherTestKit phone = TetherTestKit.start(); TetherTestKit watch = TetherTestKit.start()) {
      TetherTestKit.pair(phone, watch);
      Recorder onPhone = new Recorder();
      Recorder onWatch = new Recorder();
      try (Tether phoneApp = phone.connect(APP); Tether watchApp = watch.connect(APP)) {
        ConnectivitySession sender = phoneApp.connectivity(onPhone);
        ConnectivitySession receiver = watchApp.connectivity(onWatch);
        sender.activate().get();
        receiver.complicationEnabled(true).activate().get();
        await().atMost(WAIT).until(() -> sender.isReachable() && receiver.isReachable() && sender.isComplicationEnabled());
        sender.sendMessage(Map.of("hello", "watch")).get();

        phone.dropLink();
        assertThat(phone.isLinkUp()).isFalse();
        assertThat(watch.isLinkUp()).isFalse();
        await().atMost(WAIT).until(() -> !sender.isReachable() && onPhone.reachability.contains(false));
        await().atMost(WAIT).until(() -> !receiver.isReachable());
        assertThatThrownBy(() -> sender.sendMessage(Map.of("hello", "again")).get()).hasCauseInstanceOf(TetherException.class)
            .cause().satisfies(e -> assertThat(((TetherException) e).code()).isEqualTo(ErrorCode.NOT_REACHABLE));
        for (int n = 1; n <= 3; n++) {
          sender.transferUserInfo(Map.of("n", "item " + n));
        }
        sender.transferCurrentComplicationUserInfo(Map.of("complication", "21"));
        sender.transferFile(Files.writeString(dir.resolve("radar.txt"), "radar image"), Map.of("kind", "radar"));
        assertThat(sender.updateApplicationContext(Map.of("temp", "18"))).isTrue();
        assertThat(sender.updateApplicationContext(Map.of("temp", "21"))).isTrue();
        assertThat(sender.outstandingUserInfoTransfers()).hasSize(4);
        assertThat(onWatch.userInfos).isEmpty();
        assertThat(onWatch.contexts).isEmpty();

        long started = System.nanoTime();
        watch.restoreLink();
        Duration restoring = Duration.ofNanos(System.nanoTime() - started);
        assertThat(phone.isLinkUp()).isTrue();
        assertThat(restoring).as("restoring re-links at once, not after the dialer's back-off").isLessThan(Duration.ofSeconds(3));
        await().atMost(WAIT).until(() -> sender.outstandingUserInfoTransfers().isEmpty() && onPhone.finished.size() == 4
            && sender.outstandingFileTransfers().isEmpty() && onWatch.files.size() == 1
            && onWatch.userInfos.size() >= 4 && !onWatch.contexts.isEmpty());
        await().atMost(WAIT).until(() -> sender.isReachable() && receiver.isReachable());
        // every item acknowledged and the link still up: anything delivered twice would be here by now
        sender.sendMessage(Map.of("hello", "after")).get();
        // complication user info jumps the queue; the rest arrive in order, each once
        assertThat(onWatch.userInfos).containsExactly(Map.of("complication", "21"), Map.of("n", "item 1"), Map.of("n", "item 2"),
            Map.of("n", "item 3"));
        assertThat(onWatch.contexts).containsExactly(Map.of("temp", "21"));
        assertThat(onWatch.files).containsExactly("radar image {kind=radar}");
        assertThat(receiver.receivedApplicationContext()).isEqualTo(Map.of("temp", "21"));
        assertThat(onPhone.reachability).containsSubsequence(false, true);
        assertThat(onWatch.messages).containsExactly(Map.of("hello", "watch"), Map.of("hello", "after"));
      }
    }
  }

  @Test
  void aLongerDropHoldsTheDialWithoutBackOffAndRestoreRelinksAtOnce() {
    try (TetherTestKit phone = TetherTestKit.start(); TetherTestKit watch = TetherTestKit.start()) {
      TetherTestKit.pair(phone, watch);
      phone.dropLink();
      await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4)).until(() -> !phone.isLinkUp() && !watch.isLinkUp());
      // the companion dialed once and waits in its handshake, rather than failing and backing off (up to 5 s)
      assertThat(phone.pairing().proxy().acceptedWhileDropped()).isEqualTo(1);
      long started = System.nanoTime();
      phone.restoreLink();
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(1500));
      assertThat(watch.isLinkUp()).isTrue();
    }
  }

  @Test
  void pairingAndLinkControlRefuseWhatTheyCannotDo() {
    try (TetherTestKit a = TetherTestKit.start(); TetherTestKit b = TetherTestKit.start(); TetherTestKit c = TetherTestKit.start()) {
      assertThatThrownBy(a::dropLink).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.DEVICE_NOT_PAIRED));
      assertThat(a.isLinkUp()).isFalse();
      assertThatThrownBy(() -> TetherTestKit.pair(a, a)).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER));
      TetherTestKit.pair(a, b);
      assertThatThrownBy(() -> TetherTestKit.pair(c, b)).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_STATE));
      assertThat(b.isLinkUp()).isTrue();
      b.close();
      assertThat(a.isLinkUp()).isFalse();
      assertThatThrownBy(a::restoreLink).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_STATE));
    }
  }

  @Test
  void aDiscretionaryDownloadRunsInAFreshKitWaitsOnBatteryOrAMeteredNetworkAndRunsOnExternalPower() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/forecast.json", exchange -> {
      requests.incrementAndGet();
      byte[] body = "{\"temp\":21}".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    try (TetherTestKit kit = TetherTestKit.start(); Tether app = kit.connect(APP)) {
      List<String> downloaded = new CopyOnWriteArrayList<>();
      List<String> completed = new CopyOnWriteArrayList<>();
      UrlSession session = app.urlSession(SessionConfiguration.background("forecast").discretionary(true).build(),
          new UrlSessionDelegate() {
            @Override
            public void downloadFinished(DownloadTransfer transfer, Path file) throws Exception {
              downloaded.add(Files.readString(file));
            }

            @Override
            public void transferCompleted(Transfer transfer, Optional<TransferError> error) {
              completed.add(error.map(TransferError::toString).orElse("ok"));
            }
          });
      URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/forecast.json");
      // a kit starts with external power and an unmetered network, whatever this machine runs on
      session.download(uri).start();
      await().atMost(WAIT).until(() -> completed.size() == 1);
      assertThat(requests).hasValue(1);

      assertThat(kit.conditions(PowerSource.BATTERY, NetworkType.UNMETERED)).isZero();
      session.download(uri).start();
      assertThat(kit.conditions(PowerSource.BATTERY, NetworkType.UNMETERED)).isEqualTo(1);
      assertThat(kit.conditions(PowerSource.EXTERNAL, NetworkType.METERED)).isEqualTo(1);
      assertThat(requests).hasValue(1);
      assertThat(kit.conditions(PowerSource.EXTERNAL, NetworkType.UNMETERED)).isZero();
      await().atMost(WAIT).until(() -> completed.size() == 2);
      assertThat(downloaded).containsExactly("{\"temp\":21}", "{\"temp\":21}");
      assertThat(completed).containsExactly("ok", "ok");
      assertThat(requests).hasValue(2);
    } finally {
      server.stop(0);
    }
  }

  @Test
  void withNoNetworkARemoteDownloadAndADiscretionaryOneWaitWhileALoopbackOneRuns() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/forecast.json", exchange -> {
      requests.incrementAndGet();
      byte[] body = "{\"temp\":19}".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
    try (TetherTestKit kit = TetherTestKit.start(); Tether app = kit.connect(APP)) {
      List<String> completed = new CopyOnWriteArrayList<>();
      UrlSessionDelegate delegate = new UrlSessionDelegate() {
        @Override
        public void transferCompleted(Transfer transfer, Optional<TransferError> error) {
          completed.add(transfer.id() + ":" + error.map(e -> e.code().name()).orElse("ok"));
        }
      };
      UrlSession plain = app.urlSession(SessionConfiguration.background("plain").build(), delegate);
      UrlSession discretionary = app.urlSession(SessionConfiguration.background("later").discretionary(true).build(), delegate);
      URI local = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/forecast.json");
      assertThat(kit.conditions(PowerSource.EXTERNAL, NetworkType.NONE)).isZero();
      // TEST-NET-2: a host no request could reach; without a network none is even tried
      DownloadTransfer far = plain.download(URI.create("https://198.51.100.7/forecast.json")).start();
      await().atMost(WAIT).until(() -> kit.conditions(PowerSource.EXTERNAL, NetworkType.NONE) == 1);
      DownloadTransfer near = plain.download(local).start();
      await().atMost(WAIT).until(() -> completed.contains(near.id() + ":ok"));
      DownloadTransfer later = discretionary.download(local).start();
      await().atMost(WAIT).until(() -> kit.conditions(PowerSource.EXTERNAL, NetworkType.NONE) == 2);
      assertThat(requests).hasValue(1);
      far.cancel();
      assertThat(kit.conditions(PowerSource.EXTERNAL, NetworkType.UNMETERED)).isZero();
      await().atMost(WAIT).until(() -> completed.contains(later.id() + ":ok"));
      assertThat(completed).containsExactlyInAnyOrder(near.id() + ":ok", far.id() + ":CANCELLED", later.id() + ":ok");
      assertThat(requests).hasValue(2);
    } finally {
      server.stop(0);
    }
  }
}
