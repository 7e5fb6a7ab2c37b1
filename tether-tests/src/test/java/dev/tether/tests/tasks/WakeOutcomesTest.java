package dev.tether.tests.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.cli.Main;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.TetherAccess;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.tests.support.DaemonProcess;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** How wakes end with real app processes: expired and charged, crashed, bad commands, refused, force quit, kill -9. */
class WakeOutcomesTest {
  @TempDir Path tmp;

  @Test
  void anAppThatNeverCompletesIsKilledAtTheEndOfItsAllowanceAfterItsExpirationHandlerRanAndIsCharged() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = "com.example.never";
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      ObjectNode extra = Json.object();
      extra.put("allowanceMs", 4000);
      Tasks.register(admin, app, Tasks.shellCommand(TaskApp.class.getName(), "never", out.toString()), extra);
      scheduleRefreshAndExit(home, app);
      await().atMost(Duration.ofSeconds(30)).until(() -> outcome(admin, app) != null);
      JsonNode wake = Tasks.onlyWake(admin, app);
      assertThat(wake.path("outcome").asText()).isEqualTo("EXPIRED");
      assertThat(Tasks.events(out)).contains("task appRefresh {}", "expiring appRefresh {}").doesNotContain("exit");
      assertThat(wake.path("overrunMs").asLong()).isGreaterThanOrEqualTo(1000);
      assertThat(wake.path("chargedMs").asLong()).isGreaterThanOrEqualTo(8000);
      assertThat(wake.path("durationMs").asLong()).isBetween(4000L, 15_000L);
      assertThat(ProcessHandle.of(wake.path("pid").asLong()).map(ProcessHandle::isAlive).orElse(false)).isFalse();
      JsonNode budget = admin.call("app.list", Json.object()).path("apps").get(0).path("budget");
      assertThat(budget.path("runtimeUsedMs").asLong()).isEqualTo(wake.path("chargedMs").asLong());
      assertThat(budget.path("runtimeRemainingMs").asLong()).isEqualTo(budget.path("runtimeDailyMs").asLong() - wake.path("chargedMs").asLong());
      // An expired refresh is over: the app must ask again.
      assertThat(Tasks.timeline(admin, app).path("waiting")).isEmpty();
      String cli = cli(home, "timeline", app);
      assertThat(cli).contains("EXPIRED").contains("overrun").contains("charged");
    }
  }

  @Test
  void crashesAndBadLaunchCommandsAreClearErrorsAndOtherAppsAreUnaffected() throws Exception {
    Path home = tmp.resolve("home");
    Path crashOut = tmp.resolve("crash");
    Path goodOut = tmp.resolve("good");
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      Tasks.register(admin, "com.example.crash", Tasks.shellCommand(TaskApp.class.getName(), "crash", crashOut.toString()), null);
      Tasks.register(admin, "com.example.missing", "/nonexistent/bin/weather --refresh", null);
      Tasks.register(admin, "com.example.good", Tasks.shellCommand(TaskApp.class.getName(), "complete", goodOut.toString()), null);
      for (String app : new String[] {"com.example.crash", "com.example.missing", "com.example.good"}) {
        trigger(admin, app, "connectivity");
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> outcome(admin, "com.example.crash") != null
          && outcome(admin, "com.example.missing") != null && outcome(admin, "com.example.good") != null);
      JsonNode crash = Tasks.onlyWake(admin, "com.example.crash");
      assertThat(crash.path("outcome").asText()).isEqualTo("CRASHED");
      assertThat(crash.path("error").asText()).contains("exited with status 3 before completing its tasks");
      JsonNode missing = Tasks.onlyWake(admin, "com.example.missing");
      assertThat(missing.path("outcome").asText()).isEqualTo("CRASHED");
      assertThat(missing.path("error").asText()).contains("before connecting").contains("127").contains("not found");
      assertThat(Tasks.onlyWake(admin, "com.example.good").path("outcome").asText()).isEqualTo("COMPLETED");
      // The connectivity data still waits for the broken apps: retried after a back-off, not lost.
      JsonNode waiting = Tasks.timeline(admin, "com.example.missing").path("waiting");
      assertThat(waiting).hasSize(1);
      assertThat(waiting.get(0).path("reason").asText()).isEqualTo("RETRY");
      assertThat(cli(home, "timeline", "com.example.missing")).contains("CRASHED").contains("not found").contains("RETRY until");
    }
  }

  @Test
  void registeringAFixedLaunchCommandRetriesTheTasksOfFailedWakesAtOnce() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = "com.example.typo";
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      Tasks.register(admin, app, "/nonexistent/bin/weather --refresh", null);
      trigger(admin, app, "connectivity");
      await().atMost(Duration.ofSeconds(30)).until(() -> "CRASHED".equals(outcome(admin, app)));
      assertThat(Tasks.timeline(admin, app).path("waiting").get(0).path("reason").asText()).isEqualTo("RETRY");

      // the operator reads the error in 'tether timeline' and registers the right command: no back-off to wait out
      cli(home, "app", "register", app, "--launch", Tasks.shellCommand(TaskApp.class.getName(), "complete", out.toString()));
      await().atMost(Duration.ofSeconds(30)).until(() -> "COMPLETED".equals(outcome(admin, app)));
      assertThat(Tasks.timeline(admin, app).path("wakes")).hasSize(2);
      assertThat(Tasks.timeline(admin, app).path("waiting")).isEmpty();
      assertThat(Tasks.events(out)).contains("task connectivity");
    }
  }

  @Test
  void aConnectionClaimingAWakeOfAnUnregisteredAppIsRefusedAndRecorded() throws Exception {
    Path home = tmp.resolve("home");
    String app = "com.example.stranger";
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      Map<String, String> env = Map.of(Protocol.ENV_LAUNCHED_IN_BACKGROUND, "1", Protocol.ENV_APP_ID, app,
          Protocol.ENV_WAKE_ID, "made-up-wake");
      try (Tether t = TetherAccess.get().connect(app, TetherOptions.defaults().home(home).startDaemon(false), env)) {
        assertThat(t.launchedInBackground()).isTrue();
        assertThatThrownBy(() -> t.awaitTasks(Duration.ofSeconds(20))).isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_APP);
          assertThat(e.getMessage()).contains("no app " + app + " is registered").contains("tether app register");
        });
      }
      JsonNode wake = Tasks.onlyWake(admin, app);
      assertThat(wake.path("outcome").asText()).isEqualTo("REFUSED");
      assertThat(wake.path("error").asText()).contains("made-up-wake");
      assertThat(cli(home, "timeline", app)).contains("REFUSED");
    }
  }

  @Test
  void aForceQuitAppIsNotLaunchedInTheBackgroundUntilItRunsInTheForegroundAgain() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = "com.example.quit";
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home)) {
      Tasks.register(admin, app, Tasks.shellCommand(TaskApp.class.getName(), "complete", out.toString()), null);
      Tether running = Tether.connect(app, TetherOptions.defaults().home(home).startDaemon(false));
      running.setForeground(true);
      String stopped = cli(home, "app", "stop", app, "--force");
      assertThat(stopped).contains("force-quit " + app).contains("1 connection(s) closed");
      await().atMost(Duration.ofSeconds(10)).until(() -> !TetherAccess.client(running).isOpen());
      trigger(admin, app, "connectivity");
      JsonNode t = Tasks.timeline(admin, app);
      assertThat(t.path("wakes")).isEmpty();
      assertThat(t.path("waiting").get(0).path("reason").asText()).isEqualTo("FORCE_QUIT");
      assertThat(admin.call("app.list", Json.object()).path("apps").get(0).path("forceQuit").asBoolean()).isTrue();
      assertThat(cli(home, "apps")).contains("[force-quit]");
      // Opened by the user again: the flag clears, and once it exits the waiting task launches it.
      Tether.connect(app, TetherOptions.defaults().home(home).startDaemon(false)).close();
      await().atMost(Duration.ofSeconds(30)).until(() -> outcome(admin, app) != null);
      assertThat(Tasks.onlyWake(admin, app).path("outcome").asText()).isEqualTo("COMPLETED");
      assertThat(Tasks.events(out)).contains("task connectivity");
    }
  }

  @Test
  void aWakeInterruptedByKillingTetherdIsEndedAndItsTaskDeliveredAgainAfterRestart() throws Exception {
    Path home = tmp.resolve("home");
    Path out = tmp.resolve("out");
    String app = "com.example.restart";
    try (DaemonProcess d = DaemonProcess.start(home)) {
      long appPid;
      try (DaemonClient admin = Tasks.admin(home)) {
        Tasks.register(admin, app, Tasks.shellCommand(TaskApp.class.getName(), "once", out.toString()), null);
        scheduleRefreshAndExit(home, app);
        await().atMost(Duration.ofSeconds(30)).until(() -> Tasks.events(out).stream().anyMatch(l -> l.startsWith("task ")));
        appPid = Tasks.timeline(admin, app).path("wakes").get(0).path("pid").asLong();
      }
      d.kill9();
      d.start();
      try (DaemonClient admin = Tasks.admin(home)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> Tasks.timeline(admin, app).path("wakes").size() == 2
            && outcome(admin, app) != null);
        JsonNode wakes = Tasks.timeline(admin, app).path("wakes");
        assertThat(wakes.get(1).path("outcome").asText()).isEqualTo("KILLED");
        assertThat(wakes.get(1).path("error").asText()).contains("tetherd stopped");
        assertThat(wakes.get(0).path("outcome").asText()).isEqualTo("COMPLETED");
        assertThat(wakes.get(0).path("tasks").get(0).path("userInfo").path("n").asInt()).isEqualTo(7);
        assertThat(ProcessHandle.of(appPid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
      }
    }
  }

  @Test
  void cliRegistersListsAndUnregistersAppsAndRejectsBadInput() throws Exception {
    Path home = tmp.resolve("home");
    try (DaemonProcess d = DaemonProcess.start(home)) {
      String reg = cli(home, "app", "register", "com.example.cli", "--launch", "echo hi", "--complication", "--allowance", "20s");
      assertThat(reg).contains("registered com.example.cli").contains("wakes 4/4 left this hour").contains("allowance 20.0 s");
      String json = cli(home, "apps", "--json");
      JsonNode a = Json.parse(json).path("apps").get(0);
      assertThat(a.path("app").asText()).isEqualTo("com.example.cli");
      assertThat(a.path("launch").asText()).isEqualTo("echo hi");
      assertThat(a.path("allowanceMs").asLong()).isEqualTo(20_000);
      assertThat(a.path("budget").path("wakesRemaining").asInt()).isEqualTo(4);
      String budget = cli(home, "app", "budget", "com.example.cli", "--wakes-per-hour", "2", "--daily-runtime", "5m");
      assertThat(budget).contains("wakes 2/2").contains("300 s left today");
      assertThat(cli(home, "app", "unregister", "com.example.cli")).contains("unregistered com.example.cli");
      assertThat(cli(home, "apps")).contains("no apps registered");
      CliResult unknown = run(home, "app", "unregister", "com.example.cli");
      assertThat(unknown.code).isEqualTo(4);
      assertThat(unknown.err).contains("no app com.example.cli is registered").contains("UNKNOWN_APP");
      CliResult badAllowance = run(home, "app", "register", "com.example.x", "--launch", "x", "--allowance", "0s");
      assertThat(badAllowance.code).isEqualTo(4);
      assertThat(badAllowance.err).contains("between 1 s and 1 h");
      CliResult badId = run(home, "app", "register", "not an id!", "--launch", "x");
      assertThat(badId.code).isEqualTo(4);
      assertThat(badId.err).contains("not valid");
      CliResult badDuration = run(home, "app", "register", "com.example.x", "--launch", "x", "--allowance", "soon");
      assertThat(badDuration.code).isNotZero();
      assertThat(badDuration.err).contains("not a duration");
      assertThat(cli(home, "apps")).contains("no apps registered");
    }
  }

  @Test
  void anAppCannotActForAnotherApp() throws Exception {
    Path home = tmp.resolve("home");
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient admin = Tasks.admin(home);
         Tether t = Tether.connect("com.example.one", TetherOptions.defaults().home(home).startDaemon(false))) {
      Tasks.register(admin, "com.example.two", "true", null);
      ObjectNode b = Json.object();
      b.put("app", "com.example.two");
      b.put("kind", "connectivity");
      assertThatThrownBy(() -> TetherAccess.client(t).call("task.trigger", b)).isInstanceOfSatisfying(TetherException.class, e -> {
        assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED);
        assertThat(e.getMessage()).contains("acts only for itself");
      });
      ObjectNode stop = Json.object();
      stop.put("app", "com.example.two");
      stop.put("force", true);
      assertThatThrownBy(() -> TetherAccess.client(t).call("app.stop", stop)).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED));
      assertThat(Tasks.timeline(admin, "com.example.two").path("waiting")).isEmpty();
      assertThat(admin.call("app.list", Json.object()).path("apps").get(0).path("forceQuit").asBoolean()).isFalse();
    }
  }

  private static void scheduleRefreshAndExit(Path home, String app) {
    try (Tether t = Tether.connect(app, TetherOptions.defaults().home(home).startDaemon(false))) {
      t.scheduleBackgroundRefresh(Instant.now(), app.endsWith("restart") ? Map.of("n", 7) : Map.of());
    }
  }

  private static void trigger(DaemonClient admin, String app, String kind) {
    ObjectNode b = Json.object();
    b.put("app", app);
    b.put("kind", kind);
    b.put("bypassBudget", false);
    admin.call("task.trigger", b);
  }

  private static String outcome(DaemonClient admin, String app) {
    JsonNode wakes = Tasks.timeline(admin, app).path("wakes");
    if (wakes.isEmpty() || wakes.get(0).path("outcome").isNull()) {
      return null;
    }
    return wakes.get(0).path("outcome").asText();
  }

  record CliResult(int code, String out, String err) {}

  static CliResult run(Path home, String... args) {
    CommandLine cl = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 2];
    all[0] = "--home";
    all[1] = home.toString();
    System.arraycopy(args, 0, all, 2, args.length);
    int code = cl.execute(all);
    return new CliResult(code, out.toString(), err.toString());
  }

  static String cli(Path home, String... args) {
    CliResult r = run(home, args);
    if (r.code != 0) {
      throw new AssertionError("tether " + String.join(" ", args) + " exited " + r.code + ": " + r.err);
    }
    return r.out;
  }
}
