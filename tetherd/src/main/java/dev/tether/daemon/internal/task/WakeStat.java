package dev.tether.daemon.internal.task;

import java.time.Instant;

/**
 * Confined to the task thread ({@code tether-tasks}): what budgets need to know about a recent wake (the last 24
 * hours).
 */
final class WakeStat {
  final Instant started;
  boolean budgeted;
  boolean urlSession;
  long chargedMs;

  WakeStat(Instant started, boolean budgeted, boolean urlSession, long chargedMs) {
    this.started = started;
    this.budgeted = budgeted;
    this.urlSession = urlSession;
    this.chargedMs = chargedMs;
  }
}
