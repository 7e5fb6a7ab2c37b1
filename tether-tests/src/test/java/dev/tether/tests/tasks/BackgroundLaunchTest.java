package dev.tether.tests.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** tetherd launches registered apps as real processes, hands them tasks, and ends them. */
class BackgroundLaunchTest {
  @TempDir Path tmp;

  @Test
  void refreshScheduledByAnAppThatExitedLaunchesItAndTheWakeCompletes() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = "com.example.refresh";
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      Tasks.register(admin, app, Tasks.shellCommand(TaskApp.class.getName(), "complete", out.toString()), null);
      try (Tether t = Tether.connect(app, TetherOptions.defaults().home(home).startDaemon(false))) {
        t.scheduleBackgroundRefresh(Instant.now(), Map.of("city", "Oslo"));
        // In the foreground: not delivered.
        assertThat(Tasks.timeline(admin, app).path("waiting").get(0).path("reason").asText()).isEqualTo("FOREGROUND");
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> Tasks.events(out).contains("exit"));
      assertThat(Tasks.events(out)).contains("background true", "task appRefresh {city=Oslo}");
      await().atMost(Duration.ofSeconds(20)).until(() -> !Tasks.timeline(admin, app).path("wakes").get(0).path("outcome").isNull());
      JsonNode wake = Tasks.onlyWake(admin, app);
      assertThat(wake.path("outcome").asText()).isEqualTo("COMPLETED");
      assertThat(wake.path("launched").asBoolean()).isTrue();
      assertThat(wake.path("tasks").get(0).path("state").asText()).isEqualTo("completed");
      assertThat(wake.path("tasks").get(0).path("userInfo").path("city").asText()).isEqualTo("Oslo");
      assertThat(Tasks.events(out).get(0)).isEqualTo("launched " + wake.path("id").asText());
      assertThat(Tasks.timeline(admin, app).path("waiting")).isEmpty();
      JsonNode listed = admin.call("app.list", Json.object()).path("apps").get(0);
      assertThat(listed.path("budget").path("wakesUsed").asInt()).isEqualTo(1);
      assertThat(listed.path("budget").path("wakesRemaining").asInt()).isZero();
    }
  }
}
