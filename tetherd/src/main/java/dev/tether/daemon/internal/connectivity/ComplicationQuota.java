package dev.tether.daemon.internal.connectivity;

import java.time.Duration;
import java.time.Instant;

/**
 * Pure and immutable; any thread: the complication user info quota, as plain values. A primary may send {@link
 * #PER_DAY} complication user infos per app to a companion that shows the app's complication, counted over the last
 * day; beyond it, a complication user info goes as ordinary user info.
 */
final class ComplicationQuota {
  /** Complication user infos per app in any one day. */
  static final int PER_DAY = 50;
  /** How far back a sent complication user info counts. */
  static final Duration WINDOW = Duration.ofDays(1);

  private ComplicationQuota() {}

  /** A complication sent at {@code atMillis} counts at {@code now} when it is later than this (epoch millis). */
  static long countsAfter(Instant now) {
    return now.minus(WINDOW).toEpochMilli();
  }

  /** When a complication is sent at {@code atMillis}, entries at or before this no longer count and may be forgotten. */
  static long forgetUpTo(long atMillis) {
    return atMillis - WINDOW.toMillis();
  }

  /**
   * How many more complication user infos the app may send now: none from a companion or when the counterpart does not
   * show the app's complication, else what the day's {@code used} leaves.
   */
  static int remaining(boolean primary, boolean counterpartShowsComplication, int used) {
    if (!primary || !counterpartShowsComplication) {
      return 0;
    }
    return Math.max(0, PER_DAY - used);
  }

  /** The outbox kind of a user info: {@code complication} while the quota lasts, else {@code userinfo}. */
  static String kind(boolean complicationAsked, int remaining) {
    return complicationAsked && remaining > 0 ? "complication" : "userinfo";
  }
}
