package dev.tether.daemon.internal.connectivity;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ComplicationQuotaTest {
  private static final Instant NOW = Instant.parse("2026-12-07T12:00:00Z");

  @Test
  void aPrimaryWhoseCounterpartShowsTheComplicationHasFiftyADay() {
    assertThat(ComplicationQuota.remaining(true, true, 0)).isEqualTo(50);
    assertThat(ComplicationQuota.remaining(true, true, 49)).isEqualTo(1);
    assertThat(ComplicationQuota.remaining(true, true, 50)).isZero();
    assertThat(ComplicationQuota.remaining(true, true, 80)).isZero();
  }

  @Test
  void aCompanionOrACounterpartWithoutTheComplicationHasNone() {
    assertThat(ComplicationQuota.remaining(false, true, 0)).isZero();
    assertThat(ComplicationQuota.remaining(true, false, 0)).isZero();
  }

  @Test
  void aComplicationGoesAsOrdinaryUserInfoOnceTheQuotaIsUsed() {
    assertThat(ComplicationQuota.kind(true, 1)).isEqualTo("complication");
    assertThat(ComplicationQuota.kind(true, 0)).isEqualTo("userinfo");
    assertThat(ComplicationQuota.kind(false, 50)).isEqualTo("userinfo");
  }

  @Test
  void aComplicationCountsForExactlyOneDay() {
    long since = ComplicationQuota.countsAfter(NOW);
    long dayAgo = NOW.minus(Duration.ofDays(1)).toEpochMilli();
    // counted when later than the bound: one sent exactly a day ago no longer counts
    assertThat(dayAgo > since).isFalse();
    assertThat(dayAgo + 1 > since).isTrue();
    // what is forgotten when one is sent now is exactly what no longer counts
    assertThat(ComplicationQuota.forgetUpTo(NOW.toEpochMilli())).isEqualTo(since);
  }

  /** Sending on a random schedule never exceeds fifty in any day, and the log kept stays within one day. */
  @Test
  void neverMoreThanFiftyInAnyDay() {
    Random random = new Random(20261207L);
    List<Long> log = new ArrayList<>();
    List<Long> sent = new ArrayList<>();
    Instant now = NOW;
    for (int i = 0; i < 20_000; i++) {
      now = now.plusMillis(random.nextInt(30 * 60_000));
      long since = ComplicationQuota.countsAfter(now);
      int used = (int) log.stream().filter(at -> at > since).count();
      if (ComplicationQuota.kind(true, ComplicationQuota.remaining(true, true, used)).equals("complication")) {
        long at = now.toEpochMilli();
        log.add(at);
        sent.add(at);
        long forget = ComplicationQuota.forgetUpTo(at);
        log.removeIf(x -> x <= forget);
      }
      if (!log.isEmpty()) {
        long newest = log.get(log.size() - 1);
        assertThat(log).as("the log keeps one day").allMatch(at -> at > ComplicationQuota.forgetUpTo(newest));
      }
    }
    assertThat(sent).hasSizeGreaterThan(50);
    for (int i = 0; i + 50 < sent.size(); i++) {
      assertThat(sent.get(i + 50) - sent.get(i)).as("51 complications within a day").isGreaterThanOrEqualTo(Duration.ofDays(1).toMillis());
    }
  }
}
