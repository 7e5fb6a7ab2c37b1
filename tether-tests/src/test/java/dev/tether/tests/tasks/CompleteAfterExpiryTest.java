package dev.tether.tests.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.TetherAccess;
import dev.tether.BackgroundTask;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, item 10: work that ends on another thread just after the allowance ran out calls
 * {@code setTaskCompleted()} on an expired task. With a real tetherd and the real client: the call is harmless (no
 * exception, however often) and the wake stays recorded as expired.
 */
class CompleteAfterExpiryTest {
  @TempDir Path tmp;

  @Test
  void setTaskCompletedAfterTheTaskExpiredDoesNothing() throws Exception {
    Path home = tmp.resolve("home");
    String app = "com.example.late";
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home);
         Tether t = Tether.connect(app, TetherOptions.defaults().home(home).startDaemon(false))) {
      Tasks.register(admin, app, "true", null);
      AtomicReference<BackgroundTask> delivered = new AtomicReference<>();
      CountDownLatch handlerRan = new CountDownLatch(1);
      t.setTaskDelegate(tasks -> {
        for (BackgroundTask task : tasks) {
          // the work runs elsewhere; the expiration handler only asks it to stop, and returns
          task.setExpirationHandler(handlerRan::countDown);
          delivered.set(task);
        }
      });
      ObjectNode trigger = Json.object();
      trigger.put("app", app);
      trigger.put("kind", "connectivity");
      admin.call("task.trigger", trigger);
      await().atMost(Duration.ofSeconds(20)).until(() -> delivered.get() != null);
      BackgroundTask task = delivered.get();

      ObjectNode expire = Json.object();
      expire.put("app", app);
      admin.call("task.expire", expire);
      assertThat(handlerRan.await(20, TimeUnit.SECONDS)).isTrue();
      await().atMost(Duration.ofSeconds(20)).until(task::isCompleted);
      await().atMost(Duration.ofSeconds(20)).until(() -> "EXPIRED".equals(outcome(admin, app)));

      ObjectNode before = Tasks.timeline(admin, app);
      before.remove("now");
      assertThat(before.path("wakes").get(0).path("tasks").get(0).path("state").asText()).isEqualTo("requeued");

      // the work finishes just after the allowance ran out
      assertThatCode(task::setTaskCompleted).doesNotThrowAnyException();
      assertThatCode(task::setTaskCompleted).doesNotThrowAnyException();
      assertThat(task.isCompleted()).isTrue();
      assertThat(task.toString()).contains("expired");

      // the expiry stays recorded as it was (the connectivity task waits for the next wake); the connection still works
      admin.call("task.settle", Json.object());
      ObjectNode after = Tasks.timeline(admin, app);
      after.remove("now");
      assertThat(after).isEqualTo(before);
      assertThat(Tasks.onlyWake(admin, app).path("outcome").asText()).isEqualTo("EXPIRED");
      assertThat(TetherAccess.client(t).isOpen()).isTrue();
    }
  }

  private static String outcome(DaemonClient admin, String app) {
    JsonNode wakes = Tasks.timeline(admin, app).path("wakes");
    if (wakes.isEmpty() || wakes.get(0).path("outcome").isNull()) {
      return null;
    }
    return wakes.get(0).path("outcome").asText();
  }
}
