package dev.tether.tests.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UrlSessionDelegate;
import dev.tether.examples.download.BackgroundDownloadExample;
import dev.tether.examples.refresh.RefreshExample;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Protocol;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.GeneratedContent;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.TestHttpServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example apps, run as real processes against a real daemon and a real HTTP server. */
class ExampleAppTest {
  @TempDir Path tmp;

  @Test
  void theDownloadExampleIsLaunchedByTheFinishedDownloadCompletesItsTaskAndIsEnded() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = BackgroundDownloadExample.APP_ID;
    CountDownLatch release = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      TestHttpServer.Resource file = server.file("/forecast.json", 3 << 20, 42).fault(new TestHttpServer.PauseAfter(256 * 1024, release));
      WakeOutcomesTest.cli(home, "app", "register", app, "--launch",
          Tasks.shellCommand(BackgroundDownloadExample.class.getName(), "--out", out.toString()));
      Process p = start(home, BackgroundDownloadExample.class.getName(), "--out", out.toString(), server.url("/forecast.json").toString());
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
      assertThat(Tasks.timeline(admin, app).path("wakes")).isEmpty();
      release.countDown();
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        JsonNode w = Tasks.timeline(admin, app).path("wakes");
        return !w.isEmpty() && !w.get(0).path("outcome").isNull();
      });
      JsonNode wake = Tasks.onlyWake(admin, app);
      assertThat(wake.path("outcome").asText()).isEqualTo("COMPLETED");
      assertThat(wake.path("launched").asBoolean()).isTrue();
      assertThat(wake.path("tasks").get(0).path("kind").asText()).isEqualTo("urlSession");
      assertThat(wake.path("tasks").get(0).path("sessionIdentifier").asText()).isEqualTo(BackgroundDownloadExample.SESSION);
      assertThat(wake.path("reason").asText()).contains("urlSession(forecast)");
      Path saved = out.resolve("forecast.json");
      assertThat(saved).exists();
      assertThat(GeneratedContent.sha256(saved)).isEqualTo(file.content().sha256());
      assertThat(ProcessHandle.of(wake.path("pid").asLong()).map(ProcessHandle::isAlive).orElse(false)).isFalse();
      String log = Files.readString(home.resolve("logs").resolve("apps").resolve(app + ".log"));
      assertThat(log).contains("woken for session forecast").contains("saved " + saved).contains("all tasks complete");
      assertThat(WakeOutcomesTest.cli(home, "timeline", app)).contains("COMPLETED").contains("urlSession forecast");
    }
  }

  @Test
  void theRefreshExampleIsLaunchedWhenItsRefreshIsDue() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = RefreshExample.APP_ID;
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      WakeOutcomesTest.cli(home, "app", "register", app, "--launch", Tasks.shellCommand(RefreshExample.class.getName(), "--out", out.toString()));
      Process p = start(home, RefreshExample.class.getName(), "--out", out.toString(), "--in", "1");
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        JsonNode w = Tasks.timeline(admin, app).path("wakes");
        return !w.isEmpty() && !w.get(0).path("outcome").isNull();
      });
      assertThat(Tasks.onlyWake(admin, app).path("outcome").asText()).isEqualTo("COMPLETED");
      try (var files = Files.list(out)) {
        List<Path> notes = files.toList();
        assertThat(notes).singleElement().satisfies(n -> assertThat(Files.readString(n)).contains("requestedAt"));
      }
    }
  }

  @Test
  void forceQuitCancelsTheAppsTransfersWithTheForceQuitReasonAndItIsNotLaunched() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = BackgroundDownloadExample.APP_ID;
    CountDownLatch never = new CountDownLatch(1);
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      TestHttpServer.Resource file = server.file("/big.bin", 8 << 20, 7).fault(new TestHttpServer.PauseAfter(128 * 1024, never));
      WakeOutcomesTest.cli(home, "app", "register", app, "--launch",
          Tasks.shellCommand(BackgroundDownloadExample.class.getName(), "--out", out.toString()));
      Process p = start(home, BackgroundDownloadExample.class.getName(), "--out", out.toString(), server.url("/big.bin").toString());
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      await().atMost(Duration.ofSeconds(30)).until(() -> file.paused() == 1);
      WakeOutcomesTest.cli(home, "app", "stop", app, "--force");
      // The cancelled transfer's events want the app, but it was force-quit: nothing is launched.
      await().atMost(Duration.ofSeconds(30)).until(() -> {
        JsonNode waiting = Tasks.timeline(admin, app).path("waiting");
        return waiting.size() == 1 && waiting.get(0).path("reason").asText().equals("FORCE_QUIT");
      });
      assertThat(Tasks.timeline(admin, app).path("wakes")).isEmpty();
      // The user opens the app: it sees the transfer ended with the force-quit reason.
      List<Optional<TransferError>> errors = new CopyOnWriteArrayList<>();
      try (Tether t = Tether.connect(app, TetherOptions.defaults().home(home).startDaemon(false))) {
        t.urlSession(SessionConfiguration.background(BackgroundDownloadExample.SESSION).build(), new UrlSessionDelegate() {
          @Override
          public void transferCompleted(Transfer transfer, Optional<TransferError> error) {
            errors.add(error);
          }
        }).eventsDelivered().get(30, TimeUnit.SECONDS);
      }
      assertThat(errors).singleElement().satisfies(e -> assertThat(e).get().extracting(TransferError::code)
          .isEqualTo(ErrorCode.USER_FORCE_QUIT_APPLICATION));
      // The app handled its session itself: the waiting URL-session task was withdrawn, so nothing launches it.
      JsonNode after = Tasks.timeline(admin, app);
      assertThat(after.path("waiting")).isEmpty();
      assertThat(after.path("wakes")).isEmpty();
      never.countDown();
    }
  }

  private static Process start(Path home, String mainClass, String... args) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand(mainClass, args));
    pb.environment().put(Protocol.ENV_HOME, home.toString());
    pb.environment().remove(Protocol.ENV_LAUNCHED_IN_BACKGROUND);
    pb.redirectErrorStream(true);
    pb.redirectOutput(home.resolveSibling("foreground-" + mainClass.substring(mainClass.lastIndexOf('.') + 1) + ".log").toFile());
    return pb.start();
  }
}
