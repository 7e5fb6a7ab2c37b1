package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  private static final long NOW = 1_700_000_000_000L;
  private static final long FAR = NOW + Duration.ofDays(7).toMillis();

  @Test
  void theBackOffStartsAtHalfASecondDoublingAndStopsAtAMinute() {
    assertThat(RetryPolicy.backOff(0)).isEqualTo(Duration.ofMillis(500));
    assertThat(RetryPolicy.backOff(1)).isEqualTo(Duration.ofSeconds(1));
    assertThat(RetryPolicy.backOff(2)).isEqualTo(Duration.ofSeconds(2));
    assertThat(RetryPolicy.backOff(6)).isEqualTo(Duration.ofSeconds(32));
    assertThat(RetryPolicy.backOff(7)).isEqualTo(Duration.ofSeconds(60));
    assertThat(RetryPolicy.backOff(1_000)).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void eachFailedAttemptCountsAndDoublesTheWait() {
    RetryPolicy.Decision first = RetryPolicy.afterFailure(0, false, null, NOW, FAR);
    assertThat(first.attempts()).isEqualTo(1);
    assertThat(first.delay()).isEqualTo(Duration.ofSeconds(1));
    assertThat(first.nextAttemptAt()).isEqualTo(NOW + 1_000);
    assertThat(first.timedOut()).isFalse();

    RetryPolicy.Decision third = RetryPolicy.afterFailure(2, false, null, NOW, FAR);
    assertThat(third.attempts()).isEqualTo(3);
    assertThat(third.delay()).isEqualTo(Duration.ofSeconds(4));
  }

  @Test
  void anAttemptThatMadeProgressRetriesSoonAndStartsTheCountAgain() {
    RetryPolicy.Decision d = RetryPolicy.afterFailure(9, true, null, NOW, FAR);
    assertThat(d.attempts()).isZero();
    assertThat(d.delay()).isEqualTo(Duration.ofMillis(200));
    assertThat(d.nextAttemptAt()).isEqualTo(NOW + 200);
  }

  @Test
  void retryAfterWinsOverTheBackOffAndOverProgress() {
    Duration ra = Duration.ofSeconds(120);
    assertThat(RetryPolicy.afterFailure(0, false, ra, NOW, FAR).delay()).isEqualTo(ra);
    RetryPolicy.Decision progressed = RetryPolicy.afterFailure(4, true, Duration.ofMillis(3), NOW, FAR);
    assertThat(progressed.delay()).isEqualTo(Duration.ofMillis(3));
    assertThat(progressed.attempts()).isZero();
  }

  @Test
  void aRetryAtOrPastTheDeadlineIsATimeout() {
    assertThat(RetryPolicy.afterFailure(0, false, null, NOW, NOW + 1_001).timedOut()).isFalse();
    assertThat(RetryPolicy.afterFailure(0, false, null, NOW, NOW + 1_000).timedOut()).isTrue();
    assertThat(RetryPolicy.afterFailure(0, true, null, NOW, NOW + 100).timedOut()).isTrue();
    assertThat(RetryPolicy.afterFailure(0, false, Duration.ofHours(1), NOW, NOW + Duration.ofMinutes(59).toMillis()).timedOut()).isTrue();
  }

  @Test
  void onAVirtualClockRetriesNeverOutliveTheResourceTimeout() {
    Random random = new Random(14);
    for (int run = 0; run < 200; run++) {
      long resourceTimeout = 1 + random.nextInt(600_000);
      long now = NOW;
      long deadline = NOW + resourceTimeout;
      int attempts = 0;
      int retries = 0;
      while (true) {
        boolean progress = random.nextInt(4) == 0;
        Duration retryAfter = random.nextInt(5) == 0 ? Duration.ofMillis(random.nextInt(90_000)) : null;
        RetryPolicy.Decision d = RetryPolicy.afterFailure(attempts, progress, retryAfter, now, deadline);
        assertThat(d.nextAttemptAt()).isEqualTo(now + d.delay().toMillis());
        assertThat(d.timedOut()).isEqualTo(d.nextAttemptAt() >= deadline);
        if (retryAfter == null) {
          assertThat(d.delay()).isBetween(Duration.ofMillis(200), Duration.ofSeconds(60));
        }
        if (d.timedOut()) {
          break;
        }
        assertThat(d.nextAttemptAt()).isLessThan(deadline);
        attempts = d.attempts();
        now = d.nextAttemptAt(); // the virtual clock moves to the retry
        retries++;
        assertThat(retries).isLessThan(100_000);
      }
    }
  }
}
