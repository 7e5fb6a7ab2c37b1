package dev.tether.daemon.internal.task;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Immutable, computed on the task thread ({@code tether-tasks}): an app's budgets from its recent wakes, the rolling
 * hour of refresh and URL-session wakes, the spacing of URL-session wakes, and the rolling day of background runtime
 * (overrun penalties included).
 */
final class Budget {
  static final Duration WINDOW = Duration.ofHours(1);
  static final Duration DAY = Duration.ofHours(24);

  final int wakesPerHour;
  final int wakesUsed;
  /** When the next wake fits the hourly window (null when one fits now). */
  final Instant windowFreesAt;
  final long runtimeDailyMs;
  final long runtimeUsedMs;
  /** When enough runtime has left the day window to allow a wake (null when some is left now). */
  final Instant runtimeFreesAt;
  /** The earliest time the next URL-session wake may start (null when one may start now). */
  final Instant nextUrlSessionAt;

  Budget(AppConfig app, List<WakeStat> recent, Instant now) {
    wakesPerHour = app.effectiveWakesPerHour();
    List<WakeStat> sorted = new ArrayList<>(recent);
    sorted.sort(Comparator.comparing(s -> s.started));
    Instant hourAgo = now.minus(WINDOW);
    Instant dayAgo = now.minus(DAY);
    List<Instant> inWindow = new ArrayList<>();
    long used = 0;
    Instant lastUrl = null;
    for (WakeStat s : sorted) {
      if (s.budgeted && !s.started.isBefore(hourAgo)) {
        inWindow.add(s.started);
      }
      if (s.started.isAfter(dayAgo)) {
        used += s.chargedMs;
      }
      if (s.urlSession && (lastUrl == null || s.started.isAfter(lastUrl))) {
        lastUrl = s.started;
      }
    }
    wakesUsed = inWindow.size();
    if (wakesPerHour > 0 && wakesUsed >= wakesPerHour) {
      // A wake counts for a whole hour, its last instant included.
      windowFreesAt = inWindow.get(wakesUsed - wakesPerHour).plus(WINDOW).plusMillis(1);
    } else {
      windowFreesAt = null;
    }
    runtimeDailyMs = app.dailyRuntime.toMillis();
    runtimeUsedMs = used;
    Instant frees = null;
    if (used >= runtimeDailyMs) {
      long remaining = used;
      for (WakeStat s : sorted) {
        if (!s.started.isAfter(dayAgo)) {
          continue;
        }
        remaining -= s.chargedMs;
        if (remaining < runtimeDailyMs) {
          frees = s.started.plus(DAY);
          break;
        }
      }
    }
    runtimeFreesAt = frees;
    Instant nextUrl = lastUrl == null ? null : lastUrl.plus(app.urlSessionSpacing);
    nextUrlSessionAt = nextUrl != null && nextUrl.isAfter(now) ? nextUrl : null;
  }

  int wakesRemaining() {
    return Math.max(0, wakesPerHour - wakesUsed);
  }

  long runtimeRemainingMs() {
    return Math.max(0, runtimeDailyMs - runtimeUsedMs);
  }

  /** Whether a budget of zero wakes blocks every budgeted wake for good (until the setting changes). */
  boolean noWakesAllowed() {
    return wakesPerHour <= 0;
  }
}
