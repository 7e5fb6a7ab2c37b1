package dev.tether.daemon.internal.transfer;

import java.time.Duration;

/**
 * Pure and stateless, so any thread may call it: when a transfer whose attempt failed in a retryable way runs again.
 * After {@code Retry-After} when the server sent one; else 0.2 s when the attempt made progress (its count of failed
 * attempts starts again at 0), else a back-off of 0.5 s doubling with each failed attempt up to 60 s. A retry that
 * would come at or after the transfer's deadline (its session's resource timeout) is none: the transfer times out.
 */
final class RetryPolicy {
  /** The delay after an attempt that made progress. */
  static final Duration AFTER_PROGRESS = Duration.ofMillis(200);
  /** The back-off's base: the delay is this doubled once per failed attempt. */
  static final Duration BASE = Duration.ofMillis(500);
  /** The longest back-off. */
  static final Duration MAX = Duration.ofSeconds(60);

  private RetryPolicy() {}

  /**
   * What comes after a failed attempt.
   *
   * @param attempts the transfer's count of failed attempts after this one (0 when it made progress)
   * @param delay how long it waits
   * @param nextAttemptAt when it runs again (epoch ms)
   * @param timedOut whether that is at or past its deadline: it fails with {@code RESOURCE_TIMED_OUT} instead
   */
  record Decision(int attempts, Duration delay, long nextAttemptAt, boolean timedOut) {}

  /**
   * @param attemptsBefore the transfer's count of failed attempts before this one
   * @param madeProgress whether this attempt moved bytes
   * @param retryAfter the server's {@code Retry-After}, or null
   * @param now the current time (epoch ms)
   * @param deadline the transfer's deadline (epoch ms)
   */
  static Decision afterFailure(int attemptsBefore, boolean madeProgress, Duration retryAfter, long now, long deadline) {
    int attempts = madeProgress ? 0 : attemptsBefore + 1;
    Duration delay = retryAfter != null ? retryAfter : madeProgress ? AFTER_PROGRESS : backOff(attempts);
    long next = now + delay.toMillis();
    return new Decision(attempts, delay, next, next >= deadline);
  }

  /** The back-off after {@code attempts} failed attempts in a row: 0.5 s doubled {@code attempts} times, at most 60 s. */
  static Duration backOff(int attempts) {
    return Duration.ofMillis(Math.min(MAX.toMillis(), BASE.toMillis() << Math.min(Math.max(attempts, 0), 7)));
  }
}
