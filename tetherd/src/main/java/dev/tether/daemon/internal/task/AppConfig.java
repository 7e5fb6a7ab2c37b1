package dev.tether.daemon.internal.task;

import java.time.Duration;
import java.time.Instant;

/**
 * Confined to the task thread ({@code tether-tasks}): a registered app and its budget settings (one row of {@code
 * task_apps}).
 */
final class AppConfig {
  static final Duration DEFAULT_ALLOWANCE = Duration.ofSeconds(30);
  static final Duration DEFAULT_DAILY_RUNTIME = Duration.ofMinutes(15);
  static final Duration DEFAULT_URL_SESSION_SPACING = Duration.ofMinutes(15);

  final String appId;
  String launchCommand;
  Duration allowance = DEFAULT_ALLOWANCE;
  /** Null: 4 per hour with an active complication, else 1. */
  Integer wakesPerHour;
  boolean complicationActive;
  Duration dailyRuntime = DEFAULT_DAILY_RUNTIME;
  Duration urlSessionSpacing = DEFAULT_URL_SESSION_SPACING;
  boolean forceQuit;
  /** The foreground flag last written to the store. */
  boolean foregroundStored;
  Instant registeredAt;

  AppConfig(String appId) {
    this.appId = appId;
  }

  int effectiveWakesPerHour() {
    if (wakesPerHour != null) {
      return wakesPerHour;
    }
    return complicationActive ? 4 : 1;
  }

  /** How long before the end of the allowance the expiration handlers run. */
  Duration expirationLead() {
    Duration quarter = allowance.dividedBy(4);
    return quarter.compareTo(Duration.ofSeconds(2)) < 0 ? quarter : Duration.ofSeconds(2);
  }
}
