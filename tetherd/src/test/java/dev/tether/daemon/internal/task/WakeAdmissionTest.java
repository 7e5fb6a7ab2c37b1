package dev.tether.daemon.internal.task;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The wake admission policy on a virtual clock ({@link #at}): budgets, spacing, and why a task waits. */
class WakeAdmissionTest {
  private static final String APP = "com.example.weather";
  private static final Instant T0 = Instant.parse("2026-03-01T08:00:00Z");

  private WakeAdmission admission;
  private AppConfig app;

  @BeforeEach
  void setUp() {
    admission = new WakeAdmission();
    app = new AppConfig(APP);
    app.launchCommand = "weather";
  }

  private static Instant at(Duration d) {
    return T0.plus(d);
  }

  private static PendingTask task(TaskKind kind, Instant created) {
    PendingTask t = new PendingTask("t-" + kind, APP, kind, kind == TaskKind.URL_SESSION ? "forecast" : null, created);
    t.dueAt = created;
    return t;
  }

  /** The app registered, launchable, nothing running. */
  private WakeAdmission.AppState idle() {
    return new WakeAdmission.AppState(app, false, false, false, false, false, false);
  }

  private Waiting waiting(TaskKind kind, Instant now) {
    return admission.waiting(task(kind, T0), idle(), now);
  }

  @Test
  void aBudgetedWakeCountsForAWholeHourItsLastInstantIncluded() {
    admission.record(APP, T0, true, false);

    Waiting w = waiting(TaskKind.APP_REFRESH, at(Duration.ofMinutes(30)));
    assertThat(w.reason()).isEqualTo(WaitReason.BUDGET);
    assertThat(w.until()).isEqualTo(at(Duration.ofHours(1).plusMillis(1)));
    assertThat(w.detail()).isEqualTo("used 1 of 1 wakes this hour");

    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofHours(1))).reason()).isEqualTo(WaitReason.BUDGET);
    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofHours(1).plusMillis(1)))).isNull();
  }

  @Test
  void anActiveComplicationAllowsFourWakesPerHourAndTheWindowFreesWithTheOldest() {
    app.complicationActive = true;
    for (int i = 0; i < 3; i++) {
      admission.record(APP, at(Duration.ofMinutes(i)), true, false);
    }
    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofMinutes(5)))).isNull();

    admission.record(APP, at(Duration.ofMinutes(5)), true, false);
    Waiting w = waiting(TaskKind.APP_REFRESH, at(Duration.ofMinutes(6)));
    assertThat(w.reason()).isEqualTo(WaitReason.BUDGET);
    assertThat(w.until()).isEqualTo(at(Duration.ofHours(1).plusMillis(1)));
    assertThat(w.detail()).isEqualTo("used 4 of 4 wakes this hour");
  }

  @Test
  void anExplicitWakesPerHourOverridesTheComplicationDefault() {
    app.complicationActive = true;
    app.wakesPerHour = 2;
    admission.record(APP, T0, true, false);
    admission.record(APP, at(Duration.ofMinutes(10)), true, false);
    Waiting w = waiting(TaskKind.URL_SESSION, at(Duration.ofMinutes(40)));
    assertThat(w.reason()).isEqualTo(WaitReason.BUDGET);
    assertThat(w.until()).isEqualTo(at(Duration.ofHours(1).plusMillis(1)));
  }

  @Test
  void zeroWakesPerHourWaitsWithoutATime() {
    app.wakesPerHour = 0;
    Waiting w = waiting(TaskKind.APP_REFRESH, T0);
    assertThat(w.reason()).isEqualTo(WaitReason.BUDGET);
    assertThat(w.until()).isNull();
    assertThat(w.detail()).isEqualTo("the app's budget is 0 wakes per hour");
  }

  @Test
  void connectivityWakesAreNeitherCountedNorLimited() {
    app.wakesPerHour = 0;
    assertThat(waiting(TaskKind.CONNECTIVITY, T0)).isNull();

    app.wakesPerHour = 1;
    admission.record(APP, T0, false, false);
    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofMinutes(1)))).isNull();
    assertThat(admission.budget(app, at(Duration.ofMinutes(1))).wakesUsed).isZero();
  }

  @Test
  void urlSessionWakesAreKeptTheirSpacingApart() {
    app.wakesPerHour = 10;
    admission.record(APP, T0, true, true);

    Waiting w = waiting(TaskKind.URL_SESSION, at(Duration.ofMinutes(10)));
    assertThat(w.reason()).isEqualTo(WaitReason.SPACING);
    assertThat(w.until()).isEqualTo(at(Duration.ofMinutes(15)));
    assertThat(w.detail()).isEqualTo("URL-session wakes are kept 15 min apart");
    // the spacing holds URL-session wakes only
    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofMinutes(10)))).isNull();
    // the spacing's last instant is free
    assertThat(waiting(TaskKind.URL_SESSION, at(Duration.ofMinutes(15)))).isNull();

    app.urlSessionSpacing = Duration.ZERO;
    assertThat(waiting(TaskKind.URL_SESSION, T0)).isNull();
  }

  @Test
  void theDailyRuntimeFreesWhenEnoughChargedRuntimeLeavesTheDay() {
    app.wakesPerHour = 100;
    app.dailyRuntime = Duration.ofMinutes(15);
    admission.record(APP, T0, true, false).chargedMs = Duration.ofMinutes(10).toMillis();
    admission.record(APP, at(Duration.ofHours(2)), true, false).chargedMs = Duration.ofMinutes(5).toMillis();

    Waiting w = waiting(TaskKind.APP_REFRESH, at(Duration.ofHours(3)));
    assertThat(w.reason()).isEqualTo(WaitReason.RUNTIME);
    // used exactly the daily runtime: it frees when the first wake leaves the day
    assertThat(w.until()).isEqualTo(at(Duration.ofHours(24)));
    assertThat(w.detail()).isEqualTo("used 900 s of its 900 s daily background runtime");
    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofHours(24)).minusMillis(1)).reason())
        .isEqualTo(WaitReason.RUNTIME);
    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofHours(24)))).isNull();
  }

  @Test
  void runtimeJustUnderTheDailyLimitStillAllowsAWake() {
    app.dailyRuntime = Duration.ofMinutes(15);
    admission.record(APP, T0, false, false).chargedMs = Duration.ofMinutes(15).toMillis() - 1;
    assertThat(waiting(TaskKind.APP_REFRESH, at(Duration.ofMinutes(1)))).isNull();
    assertThat(admission.budget(app, at(Duration.ofMinutes(1))).runtimeRemainingMs()).isEqualTo(1);
  }

  @Test
  void anExpiredWakeIsChargedOneWholeAllowanceOnTop() {
    Duration allowance = Duration.ofSeconds(30);
    assertThat(WakeAdmission.chargedMs(true, 5_000, false, allowance)).isEqualTo(5_000);
    assertThat(WakeAdmission.chargedMs(true, 31_000, true, allowance)).isEqualTo(61_000);
    // a running app's wake costs no background runtime, but an overrun is still charged
    assertThat(WakeAdmission.chargedMs(false, 31_000, false, allowance)).isZero();
    assertThat(WakeAdmission.chargedMs(false, 31_000, true, allowance)).isEqualTo(30_000);
  }

  @Test
  void failedWakesBackOffFromOneMinuteDoublingToAnHour() {
    assertThat(WakeAdmission.retryBackoff(1)).isEqualTo(Duration.ofMinutes(1));
    assertThat(WakeAdmission.retryBackoff(2)).isEqualTo(Duration.ofMinutes(2));
    assertThat(WakeAdmission.retryBackoff(6)).isEqualTo(Duration.ofMinutes(32));
    assertThat(WakeAdmission.retryBackoff(7)).isEqualTo(Duration.ofHours(1));
    assertThat(WakeAdmission.retryBackoff(40)).isEqualTo(Duration.ofHours(1));
  }

  @Test
  void aRetryBackOffComesFirstThenThePreferredDate() {
    PendingTask t = task(TaskKind.APP_REFRESH, T0);
    t.dueAt = at(Duration.ofHours(2));
    t.notBefore = at(Duration.ofMinutes(1));
    t.attempts = 1;
    Waiting w = admission.waiting(t, idle(), T0);
    assertThat(w.reason()).isEqualTo(WaitReason.RETRY);
    assertThat(w.until()).isEqualTo(at(Duration.ofMinutes(1)));
    assertThat(w.detail()).isEqualTo("a previous wake for it failed (attempt 1)");

    w = admission.waiting(t, idle(), at(Duration.ofMinutes(1)));
    assertThat(w.reason()).isEqualTo(WaitReason.SCHEDULED);
    assertThat(w.until()).isEqualTo(at(Duration.ofHours(2)));
    assertThat(admission.waiting(t, idle(), at(Duration.ofHours(2)))).isNull();

    t.bypassBudget = true;
    assertThat(admission.waiting(t, idle(), at(Duration.ofMinutes(1)))).isNull();
  }

  @Test
  void forceQuitAndForegroundHoldTasksWithoutATime() {
    app.forceQuit = true;
    assertThat(waiting(TaskKind.CONNECTIVITY, T0).reason()).isEqualTo(WaitReason.FORCE_QUIT);
    app.forceQuit = false;

    WakeAdmission.AppState foreground = new WakeAdmission.AppState(app, true, false, true, false, true, false);
    Waiting w = admission.waiting(task(TaskKind.APP_REFRESH, T0), foreground, T0);
    assertThat(w.reason()).isEqualTo(WaitReason.FOREGROUND);
    assertThat(w.until()).isNull();
    // URL-session work goes to the foreground app at once
    assertThat(admission.waiting(task(TaskKind.URL_SESSION, T0), foreground, T0)).isNull();
  }

  @Test
  void aBusyOrUnknownAppHoldsTasksUntilSomethingChanges() {
    WakeAdmission.AppState ending = new WakeAdmission.AppState(app, false, false, false, true, false, false);
    assertThat(admission.waiting(task(TaskKind.URL_SESSION, T0), ending, T0).detail())
        .isEqualTo("the app's previous wake is ending");
    WakeAdmission.AppState noHandler = new WakeAdmission.AppState(app, false, false, false, false, true, false);
    assertThat(admission.waiting(task(TaskKind.CONNECTIVITY, T0), noHandler, T0).reason()).isEqualTo(WaitReason.APP_BUSY);
    WakeAdmission.AppState unknown = new WakeAdmission.AppState(null, false, false, false, false, false, false);
    assertThat(admission.waiting(task(TaskKind.CONNECTIVITY, T0), unknown, T0).reason())
        .isEqualTo(WaitReason.UNREGISTERED);
    // a listening process of an unregistered app still gets its tasks
    WakeAdmission.AppState listening = new WakeAdmission.AppState(null, false, false, true, false, true, false);
    assertThat(admission.waiting(task(TaskKind.CONNECTIVITY, T0), listening, T0)).isNull();
  }

  @Test
  void tasksJoinAnOpenWakeOverBudgetExceptARefresh() {
    app.wakesPerHour = 1;
    admission.record(APP, T0, true, true);
    WakeAdmission.AppState joinable = new WakeAdmission.AppState(app, false, true, false, true, true, false);
    assertThat(admission.waiting(task(TaskKind.URL_SESSION, T0), joinable, at(Duration.ofSeconds(5)))).isNull();
    Waiting w = admission.waiting(task(TaskKind.APP_REFRESH, T0), joinable, at(Duration.ofSeconds(5)));
    assertThat(w.reason()).isEqualTo(WaitReason.APP_BUSY);
    assertThat(w.detail()).isEqualTo("an application refresh gets a wake of its own, after the current one");
  }

  @Test
  void heldWakesHoldBudgetedTasksOnlyAndABypassGoesOverBudget() {
    WakeAdmission.AppState held = new WakeAdmission.AppState(app, false, false, false, false, false, true);
    assertThat(admission.waiting(task(TaskKind.URL_SESSION, T0), held, T0).reason()).isEqualTo(WaitReason.CONDITIONS);
    assertThat(admission.waiting(task(TaskKind.CONNECTIVITY, T0), held, T0)).isNull();

    admission.record(APP, T0, true, true);
    PendingTask bypass = task(TaskKind.URL_SESSION, T0);
    bypass.bypassBudget = true;
    assertThat(admission.waiting(bypass, held, at(Duration.ofMinutes(1)))).isNull();
  }

  @Test
  void wakesStartedADayAgoArePrunedAndLoadedOnesCount() {
    admission.load(Map.of(APP, List.of(new WakeStat(T0, true, false, 1_000))));
    assertThat(admission.budget(app, at(Duration.ofMinutes(1))).wakesUsed).isEqualTo(1);
    assertThat(admission.budget(app, at(Duration.ofMinutes(1))).runtimeUsedMs).isEqualTo(1_000);
    admission.prune(at(Duration.ofHours(24).plusMillis(1)));
    assertThat(admission.budget(app, at(Duration.ofMinutes(1))).wakesUsed).isZero();
  }

  /** Property: the window frees exactly when said; one millisecond earlier the wake would still be refused. */
  @Test
  void theWindowFreesExactlyWhenItSays() {
    Random random = new Random(20261207L);
    for (int round = 0; round < 500; round++) {
      WakeAdmission a = new WakeAdmission();
      AppConfig cfg = new AppConfig(APP);
      cfg.wakesPerHour = 1 + random.nextInt(5);
      cfg.dailyRuntime = Duration.ofDays(1);
      Instant now = T0;
      int wakes = random.nextInt(8);
      for (int i = 0; i < wakes; i++) {
        now = now.plusMillis(random.nextInt(40 * 60_000));
        a.record(APP, now, random.nextBoolean(), false);
      }
      now = now.plusMillis(random.nextInt(30 * 60_000));
      Budget b = a.budget(cfg, now);
      if (b.windowFreesAt == null) {
        assertThat(b.wakesUsed).isLessThan(cfg.wakesPerHour);
        continue;
      }
      assertThat(b.windowFreesAt).isAfter(now);
      assertThat(a.budget(cfg, b.windowFreesAt.minusMillis(1)).windowFreesAt).isNotNull();
      assertThat(a.budget(cfg, b.windowFreesAt).windowFreesAt).isNull();
    }
  }
}
