package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.tether.AppRefreshTask;
import dev.tether.AppRegistration;
import dev.tether.BackgroundTask;
import dev.tether.ConnectivityTask;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.UrlSessionTask;
import dev.tether.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class TestKitTest {
  private static final String APP = "com.example.weather";

  @Test
  void greedyRefreshesBeyondTheBudgetWait() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      TestApp app = kit.app(APP).complicationActive(true)
          .onTask(AppRefreshTask.class, task -> {
            kit.app(APP).scheduleBackgroundRefresh(kit.clock().now().plus(Duration.ofMinutes(5)), Map.of());
            return CompletableFuture.completedFuture(null);
          });
      app.scheduleBackgroundRefresh(kit.clock().now(), Map.of());
      kit.clock().advance(Duration.ofHours(1));
      assertThat(kit.timeline(APP).wakes()).hasSize(4);
      assertThat(kit.timeline(APP).wakes()).allSatisfy(w -> {
        assertThat(w.outcome()).isEqualTo(WakeOutcome.COMPLETED);
        assertThat(w.launched()).isTrue();
        assertThat(w.tasks()).containsExactly("appRefresh");
      });
      assertThat(kit.timeline(APP).waiting()).singleElement().extracting(Waiting::reason).isEqualTo(WaitReason.BUDGET);
      assertThat(app.launches()).isEqualTo(4);
    }
  }

  @Test
  void tenRefreshRequestsInAnHourWithABudgetOfFourMakeAtMostFourWakesAndNoneIsLost() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      Instant start = kit.clock().now();
      List<Object> received = new CopyOnWriteArrayList<>();
      List<Instant> wokenAt = new CopyOnWriteArrayList<>();
      TestApp app = kit.app(APP).wakesPerHour(4).onTask(AppRefreshTask.class, task -> {
        received.add(task.userInfo().get("n"));
        wokenAt.add(kit.clock().now());
        return CompletableFuture.completedFuture(null);
      });
      for (int n = 0; n < 10; n++) {
        app.scheduleBackgroundRefresh(kit.clock().now(), Map.of("n", n));
        kit.clock().advance(Duration.ofMinutes(6));
      }
      assertThat(wokenAt).hasSizeLessThanOrEqualTo(4).allSatisfy(t -> assertThat(t).isBefore(start.plus(Duration.ofHours(1))));
      Timeline waitingNow = kit.timeline(APP);
      assertThat(waitingNow.waiting()).singleElement().satisfies(w -> {
        assertThat(w.reason()).isEqualTo(WaitReason.BUDGET);
        assertThat(w.until()).isAfter(start.plus(Duration.ofHours(1)));
        assertThat(w.userInfo()).containsEntry("n", 9);
      });
      kit.clock().advance(Duration.ofHours(2));
      Timeline t = kit.timeline(APP);
      assertThat(t.waiting()).isEmpty();
      assertThat(received).last().isEqualTo(9);
      int accounted = t.wakes().stream().mapToInt(w -> 1 + w.coalesced()).sum();
      assertThat(accounted).as("every request was delivered or coalesced into a delivered one").isEqualTo(10);
      assertThat(t.wakes()).allSatisfy(w -> assertThat(w.outcome()).isEqualTo(WakeOutcome.COMPLETED));
    }
  }

  @Test
  void theTimelineSaysWhyEachWakeHappenedAndWhatAskedForEachWaitingTask() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      kit.app(APP).onTask(UrlSessionTask.class, task -> CompletableFuture.completedFuture(null))
          .onTask(ConnectivityTask.class, task -> CompletableFuture.completedFuture(null));
      kit.connectivityNeedsApp(APP);
      kit.clock().advance(Duration.ofHours(1));
      kit.urlSessionNeedsApp(APP, "forecast");
      kit.app(APP).scheduleBackgroundRefresh(kit.clock().now().plus(Duration.ofHours(2)), Map.of("city", "Lyon"));
      Timeline timeline = kit.timeline(APP);
      assertThat(timeline.wakes()).extracting(Wake::reason).containsExactly("connectivity: signalled", "urlSession(forecast): signalled");
      assertThat(timeline.waiting()).singleElement().satisfies(w -> {
        assertThat(w.reason()).isEqualTo(WaitReason.SCHEDULED);
        assertThat(w.cause()).isEqualTo("scheduled by the app");
        assertThat(w.userInfo()).containsEntry("city", "Lyon");
      });
    }
  }

  @Test
  void everyKindCanBeTriggeredAndTheDelegateGetsTheSet() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      List<Set<BackgroundTask>> sets = new CopyOnWriteArrayList<>();
      List<String> errors = new CopyOnWriteArrayList<>();
      kit.app(APP).setTaskDelegate(tasks -> {
        sets.add(tasks);
        for (BackgroundTask task : tasks) {
          task.setTaskCompleted();
          try {
            task.setTaskCompleted();
          } catch (TetherException e) {
            errors.add(e.code() + ": " + e.getMessage());
          }
        }
      });
      kit.trigger(APP, AppRefreshTask.class);
      kit.triggerUrlSession(APP, "forecast");
      kit.trigger(APP, ConnectivityTask.class);
      List<BackgroundTask> all = new ArrayList<>();
      sets.forEach(all::addAll);
      assertThat(all).hasSize(3);
      assertThat(all).anySatisfy(task -> assertThat(task).isInstanceOfSatisfying(UrlSessionTask.class,
          u -> assertThat(u.sessionIdentifier()).isEqualTo("forecast")));
      assertThat(all.stream().map(Object::toString)).anyMatch(s -> s.startsWith("UrlSessionTask[") && s.contains("session=forecast"))
          .anyMatch(s -> s.startsWith("AppRefreshTask[")).anyMatch(s -> s.startsWith("ConnectivityTask["));
      assertThat(Set.copyOf(all)).hasSize(3);
      assertThat(all).allSatisfy(task -> assertThat(task.isCompleted()).isTrue());
      assertThat(errors).hasSize(3).allSatisfy(e -> assertThat(e).startsWith("TASK_ALREADY_COMPLETED").contains("exactly once"));
      assertThat(kit.timeline(APP).wakes()).allSatisfy(w -> assertThat(w.outcome()).isEqualTo(WakeOutcome.COMPLETED));
    }
  }

  @Test
  void tasksDueTogetherArriveAsOneSet() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      List<Set<BackgroundTask>> sets = new CopyOnWriteArrayList<>();
      kit.app(APP).wakesPerHour(10).setTaskDelegate(tasks -> {
        sets.add(tasks);
        tasks.forEach(BackgroundTask::setTaskCompleted);
      });
      kit.holdWakes(true);
      kit.urlSessionNeedsApp(APP, "a");
      kit.urlSessionNeedsApp(APP, "b");
      kit.urlSessionNeedsApp(APP, "a");
      assertThat(kit.timeline(APP).waiting()).hasSize(2).extracting(Waiting::reason).containsOnly(WaitReason.CONDITIONS);
      assertThat(sets).isEmpty();
      kit.holdWakes(false);
      assertThat(sets).singleElement().satisfies(set -> assertThat(set).hasSize(2));
      Wake wake = kit.timeline(APP).wakes().get(0);
      assertThat(wake.tasks()).containsExactlyInAnyOrder("urlSession(a)", "urlSession(b)");
      assertThat(wake.coalesced()).isEqualTo(1);
      assertThat(kit.timeline(APP).waiting()).isEmpty();
    }
  }

  @Test
  void urlSessionWakesAreSpacedAndCoalesced() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      List<Instant> woken = new CopyOnWriteArrayList<>();
      kit.app(APP).wakesPerHour(10).onTask(UrlSessionTask.class, task -> {
        woken.add(kit.clock().now());
        return CompletableFuture.completedFuture(null);
      });
      Instant start = kit.clock().now();
      kit.urlSessionNeedsApp(APP, "forecast");
      kit.clock().advance(Duration.ofMinutes(1));
      kit.urlSessionNeedsApp(APP, "forecast");
      kit.urlSessionNeedsApp(APP, "forecast");
      Waiting w = kit.timeline(APP).waiting().get(0);
      assertThat(w.reason()).isEqualTo(WaitReason.SPACING);
      assertThat(w.until()).isEqualTo(start.plus(Duration.ofMinutes(15)));
      assertThat(w.coalesced()).isEqualTo(1);
      kit.clock().advance(Duration.ofMinutes(20));
      assertThat(woken).containsExactly(start, start.plus(Duration.ofMinutes(15)));
    }
  }

  @Test
  void anExpiredWakeRunsTheExpirationHandlerEndsTheAppAndChargesIt() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      List<String> events = new CopyOnWriteArrayList<>();
      TestApp app = kit.app(APP).allowance(Duration.ofSeconds(10)).onTask(ConnectivityTask.class, task -> {
        task.setExpirationHandler(() -> events.add("expiring"));
        return new CompletableFuture<>();
      });
      kit.trigger(APP, ConnectivityTask.class);
      assertThat(app.isRunning()).isTrue();
      kit.clock().advance(Duration.ofSeconds(7));
      assertThat(events).isEmpty();
      kit.clock().advance(Duration.ofSeconds(1));
      assertThat(events).containsExactly("expiring");
      assertThat(app.isRunning()).isTrue();
      kit.clock().advance(Duration.ofSeconds(2));
      assertThat(app.isRunning()).isFalse();
      Wake wake = kit.timeline(APP).wakes().get(0);
      assertThat(wake.outcome()).isEqualTo(WakeOutcome.EXPIRED);
      assertThat(wake.overrun()).isEqualTo(Duration.ofSeconds(2));
      assertThat(wake.charged()).isEqualTo(Duration.ofSeconds(20));
      var budget = kit.admin().call("app.list", Json.object()).path("apps").get(0).path("budget");
      assertThat(budget.path("runtimeUsedMs").asLong()).isEqualTo(20_000);
      // A connectivity task stands for data that still waits: it comes back after a back-off.
      assertThat(kit.timeline(APP).waiting()).singleElement().extracting(Waiting::reason).isEqualTo(WaitReason.RETRY);
    }
  }

  @Test
  void expireNowRunsTheHandlerWhichMayStillComplete() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      kit.app(APP).onTask(AppRefreshTask.class, task -> {
        CompletableFuture<Void> work = new CompletableFuture<>();
        task.setExpirationHandler(() -> work.complete(null));
        return work;
      });
      kit.trigger(APP, AppRefreshTask.class);
      kit.expire(APP);
      Wake wake = kit.timeline(APP).wakes().get(0);
      assertThat(wake.outcome()).isEqualTo(WakeOutcome.COMPLETED);
    }
  }

  @Test
  void refreshWaitsWhileTheAppIsInTheForegroundAndARunningAppGetsTasksAtOnce() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      TestApp app = kit.app(APP);
      List<BackgroundTask> got = new CopyOnWriteArrayList<>();
      try (Tether t = kit.connect(APP)) {
        t.onTask(AppRefreshTask.class, task -> {
          got.add(task);
          return CompletableFuture.completedFuture(null);
        });
        t.scheduleBackgroundRefresh(kit.clock().now(), Map.of("k", "v"));
        kit.settle();
        assertThat(kit.timeline(APP).waiting()).singleElement().extracting(Waiting::reason).isEqualTo(WaitReason.FOREGROUND);
        t.setForeground(false);
        kit.settle();
        assertThat(got).singleElement().isInstanceOfSatisfying(AppRefreshTask.class,
            r -> assertThat(r.userInfo()).containsEntry("k", "v"));
        t.awaitTasks();
      }
      kit.settle();
      Wake wake = kit.timeline(APP).wakes().get(0);
      assertThat(wake.launched()).isFalse();
      assertThat(wake.outcome()).isEqualTo(WakeOutcome.COMPLETED);
      assertThat(app.launches()).isZero();
    }
  }

  @Test
  void forceQuitAppIsNotLaunchedUntilItRunsInTheForegroundAgain() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      TestApp app = kit.app(APP).onTask(ConnectivityTask.class, task -> CompletableFuture.completedFuture(null));
      var stop = Json.object();
      stop.put("app", APP);
      stop.put("force", true);
      kit.admin().call("app.stop", stop);
      kit.connectivityNeedsApp(APP);
      kit.clock().advance(Duration.ofHours(2));
      assertThat(app.launches()).isZero();
      assertThat(kit.timeline(APP).waiting()).singleElement().extracting(Waiting::reason).isEqualTo(WaitReason.FORCE_QUIT);
      try (Tether t = kit.connect(APP)) {
        assertThat(t.launchedInBackground()).isFalse();
        kit.settle();
        assertThat(kit.timeline(APP).waiting()).singleElement().extracting(Waiting::reason).isEqualTo(WaitReason.APP_BUSY);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> app.launches() == 1);
      kit.settle();
      assertThat(kit.timeline(APP).wakes()).singleElement().extracting(Wake::outcome).isEqualTo(WakeOutcome.COMPLETED);
    }
  }

  @Test
  void badInputIsATypedError() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      assertThatThrownBy(() -> kit.timeline("com.example.nobody")).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_APP));
      assertThatThrownBy(() -> kit.app(APP).scheduleBackgroundRefresh(kit.clock().now(), Map.of("when", Instant.now())))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_UNSUPPORTED_TYPES));
      assertThatThrownBy(() -> kit.app(APP).wakesPerHour(-1)).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER));
      assertThatThrownBy(() -> kit.expire(APP)).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_STATE));
      // A wake for an app the kit cannot launch is recorded as crashed; other apps are unaffected.
      var reg = Json.object();
      reg.put("app", "com.example.ghost");
      reg.put("launch", "nothing");
      kit.admin().call("app.register", reg);
      kit.trigger("com.example.ghost", ConnectivityTask.class);
      assertThat(kit.timeline("com.example.ghost").wakes()).singleElement().satisfies(w -> {
        assertThat(w.outcome()).isEqualTo(WakeOutcome.CRASHED);
        assertThat(w.error()).contains("no app com.example.ghost");
      });
      kit.app(APP).onTask(ConnectivityTask.class, t -> CompletableFuture.completedFuture(null));
      kit.trigger(APP, ConnectivityTask.class);
      assertThat(kit.timeline(APP).wakes()).singleElement().extracting(Wake::outcome).isEqualTo(WakeOutcome.COMPLETED);
    }
  }

  @Test
  void anAppRegistersItselfFromTheLibrary() {
    try (TetherTestKit kit = TetherTestKit.start(); Tether t = kit.connect("com.example.self")) {
      t.register(AppRegistration.launchCommand("/opt/self/bin/self --background").wakesPerHour(2)
          .allowance(Duration.ofSeconds(12)).complicationActive(true).dailyRuntime(Duration.ofMinutes(5)));
      var a = kit.admin().call("app.list", Json.object()).path("apps").get(0);
      assertThat(a.path("app").asText()).isEqualTo("com.example.self");
      assertThat(a.path("launch").asText()).isEqualTo("/opt/self/bin/self --background");
      assertThat(a.path("allowanceMs").asLong()).isEqualTo(12_000);
      assertThat(a.path("complicationActive").asBoolean()).isTrue();
      assertThat(a.path("budget").path("wakesPerHour").asInt()).isEqualTo(2);
      assertThat(a.path("budget").path("runtimeDailyMs").asLong()).isEqualTo(300_000);
      assertThat(a.path("foreground").asBoolean()).isTrue();
      assertThatThrownBy(() -> t.register(AppRegistration.launchCommand(" "))).isInstanceOfSatisfying(TetherException.class,
          e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER));
      assertThatThrownBy(() -> t.register(AppRegistration.launchCommand("x").allowance(Duration.ofHours(2))))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.getMessage()).contains("between 1 s and 1 h"));
      assertThat(kit.admin().call("app.list", Json.object()).path("apps").get(0).path("allowanceMs").asLong()).isEqualTo(12_000);
    }
  }

  @Test
  void aUrlSessionTaskIsWithdrawnWhenTheAppOpenedTheSessionItself() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      TestApp app = kit.app(APP).onTask(UrlSessionTask.class, task -> CompletableFuture.completedFuture(null));
      kit.holdWakes(true);
      kit.urlSessionNeedsApp(APP, "forecast");
      kit.urlSessionNeedsApp(APP, "other");
      assertThat(kit.timeline(APP).waiting()).hasSize(2);
      kit.urlSessionOpened(APP, "forecast");
      assertThat(kit.timeline(APP).waiting()).singleElement().extracting(Waiting::task).isEqualTo("urlSession(other)");
      kit.holdWakes(false);
      assertThat(kit.timeline(APP).wakes()).singleElement().satisfies(w -> assertThat(w.tasks()).containsExactly("urlSession(other)"));
      assertThat(app.launches()).isEqualTo(1);
    }
  }

  @Test
  void overrunsUseUpTheDailyRuntimeAndLaterRefreshesWaitForIt() {
    try (TetherTestKit kit = TetherTestKit.start()) {
      Instant start = kit.clock().now();
      TestApp app = kit.app(APP).wakesPerHour(10).allowance(Duration.ofSeconds(10)).dailyRuntime(Duration.ofSeconds(15))
          .onTask(AppRefreshTask.class, task -> new CompletableFuture<>());
      app.scheduleBackgroundRefresh(kit.clock().now(), Map.of());
      kit.clock().advance(Duration.ofSeconds(10));
      Wake expired = kit.timeline(APP).wakes().get(0);
      assertThat(expired.outcome()).isEqualTo(WakeOutcome.EXPIRED);
      assertThat(expired.charged()).isEqualTo(Duration.ofSeconds(20));
      app.scheduleBackgroundRefresh(kit.clock().now(), Map.of());
      Waiting w = kit.timeline(APP).waiting().get(0);
      assertThat(w.reason()).isEqualTo(WaitReason.RUNTIME);
      assertThat(w.until()).isEqualTo(start.plus(Duration.ofHours(24)));
      assertThat(w.detail()).contains("20 s of its 15 s daily background runtime");
      kit.clock().advance(Duration.ofHours(23));
      assertThat(app.launches()).isEqualTo(1);
      kit.clock().advance(Duration.ofHours(1));
      assertThat(app.launches()).isEqualTo(2);
    }
  }
}
