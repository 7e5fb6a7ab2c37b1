package dev.tether.daemon.internal.task;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Confined to the task thread ({@code tether-tasks}), which calls it; pure otherwise (no clock: the caller passes
 * {@code now}; no I/O, no timers): whether a pending task may go now, and if not why and until when. It weighs retry
 * back-off, preferred date, force quit, foreground, a busy or missing app, held wakes and the budgets (wakes per
 * rolling hour, URL-session spacing, daily runtime), counted from the app's recent wakes it keeps.
 */
final class WakeAdmission {
  /** The longest retry back-off after failed wakes. */
  static final Duration MAX_RETRY_BACKOFF = Duration.ofHours(1);
  /** The first retry back-off; it doubles with each failed wake. */
  static final Duration FIRST_RETRY_BACKOFF = Duration.ofMinutes(1);

  /** What admission needs to know about an app at one instant, besides its recent wakes. */
  record AppState(
      /** The registered app, or null. */
      AppConfig app,
      /** A process of the app is connected in the foreground. */
      boolean foreground,
      /** A wake of the app is open and takes more tasks (launching, delivering or running). */
      boolean joinableWake,
      /** A process of the app listens for tasks and serves no wake. */
      boolean listening,
      /** A wake of the app is open, in any phase. */
      boolean openWake,
      /** A process of the app is connected. */
      boolean connected,
      /** Budgeted wakes are held (the test kit's conditions). */
      boolean held) {}

  private final Map<String, List<WakeStat>> recent = new HashMap<>();

  /** Starts from the wakes recorded in the last day (at start-up). */
  void load(Map<String, List<WakeStat>> recorded) {
    recorded.forEach((app, stats) -> recent.computeIfAbsent(app, k -> new ArrayList<>()).addAll(stats));
  }

  /** Counts a wake that starts now; the returned stat is updated (charge, budgeted) as the wake goes on. */
  WakeStat record(String appId, Instant started, boolean budgeted, boolean urlSession) {
    WakeStat stat = new WakeStat(started, budgeted, urlSession, 0);
    recent.computeIfAbsent(appId, k -> new ArrayList<>()).add(stat);
    return stat;
  }

  /** Forgets wakes that started more than a day before {@code now}: no budget counts them any more. */
  void prune(Instant now) {
    Instant dayAgo = now.minus(Budget.DAY);
    for (List<WakeStat> l : recent.values()) {
      l.removeIf(s -> s.started.isBefore(dayAgo));
    }
  }

  /** The app's budgets at {@code now}. */
  Budget budget(AppConfig app, Instant now) {
    return new Budget(app, recent.getOrDefault(app.appId, List.of()), now);
  }

  /** Why {@code t} cannot be delivered at {@code now}, or null when it can. */
  Waiting waiting(PendingTask t, AppState s, Instant now) {
    AppConfig app = s.app();
    if (t.notBefore != null && t.notBefore.isAfter(now)) {
      return new Waiting(WaitReason.RETRY, t.notBefore, "a previous wake for it failed (attempt " + t.attempts + ")");
    }
    if (t.kind == TaskKind.APP_REFRESH && !t.bypassBudget && t.dueAt.isAfter(now)) {
      return new Waiting(WaitReason.SCHEDULED, t.dueAt, "its preferred date has not come");
    }
    if (app != null && app.forceQuit) {
      return new Waiting(WaitReason.FORCE_QUIT, null, "the user force-quit the app; it waits until the app runs in the"
          + " foreground again");
    }
    if (t.kind == TaskKind.APP_REFRESH && s.foreground()) {
      return new Waiting(WaitReason.FOREGROUND, null, "application refresh is not delivered while the app is in the"
          + " foreground");
    }
    if (!s.joinableWake() && !s.listening()) {
      if (s.openWake()) {
        return new Waiting(WaitReason.APP_BUSY, null, "the app's previous wake is ending");
      }
      if (s.connected()) {
        return new Waiting(WaitReason.APP_BUSY, null, "the app runs without a task handler; delivered once it sets one"
            + " or exits");
      }
      if (app == null) {
        return new Waiting(WaitReason.UNREGISTERED, null, "no app " + t.appId + " is registered; register it with"
            + " 'tether app register " + t.appId + " --launch CMD'");
      }
    }
    if (s.joinableWake()) {
      if (t.kind == TaskKind.APP_REFRESH) {
        return new Waiting(WaitReason.APP_BUSY, null, "an application refresh gets a wake of its own, after the current"
            + " one");
      }
      return null;
    }
    if (!t.kind.budgeted() || t.bypassBudget) {
      return null;
    }
    if (s.held()) {
      return new Waiting(WaitReason.CONDITIONS, null, "wakes are held (conditions not met)");
    }
    AppConfig cfg = app != null ? app : new AppConfig(t.appId);
    Budget b = budget(cfg, now);
    if (b.noWakesAllowed()) {
      return new Waiting(WaitReason.BUDGET, null, "the app's budget is 0 wakes per hour");
    }
    if (b.runtimeFreesAt != null) {
      return new Waiting(WaitReason.RUNTIME, b.runtimeFreesAt, "used " + b.runtimeUsedMs / 1000 + " s of its "
          + b.runtimeDailyMs / 1000 + " s daily background runtime");
    }
    if (b.windowFreesAt != null) {
      return new Waiting(WaitReason.BUDGET, b.windowFreesAt, "used " + b.wakesUsed + " of " + b.wakesPerHour
          + " wakes this hour");
    }
    if (t.kind == TaskKind.URL_SESSION && b.nextUrlSessionAt != null) {
      return new Waiting(WaitReason.SPACING, b.nextUrlSessionAt, "URL-session wakes are kept "
          + cfg.urlSessionSpacing.toMinutes() + " min apart");
    }
    return null;
  }

  /**
   * The runtime a wake is charged: its duration when tetherd launched the app, plus, for an expired wake, one whole
   * allowance (the overrun penalty).
   */
  static long chargedMs(boolean launched, long durationMs, boolean expired, Duration allowance) {
    return (launched ? durationMs : 0) + (expired ? allowance.toMillis() : 0);
  }

  /** The back-off before a task is tried again after its {@code attempts}-th failed wake: 1 min doubling, at most 1 h. */
  static Duration retryBackoff(int attempts) {
    long ms = Math.min(MAX_RETRY_BACKOFF.toMillis(), FIRST_RETRY_BACKOFF.toMillis() << Math.min(6, attempts - 1));
    return Duration.ofMillis(ms);
  }
}
