package dev.tether.daemon.internal.link;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.daemon.internal.link.DialPolicy.Action;
import dev.tether.daemon.internal.link.DialPolicy.Decision;
import dev.tether.daemon.internal.link.DialPolicy.LinkState;
import dev.tether.daemon.internal.link.DialPolicy.Route;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The dial policy on virtual time: back-off, the way to the relay and back, and the direct probe of a relayed link. */
class DialPolicyTest {
  static final long MAX = 5_000;
  static final long PROBE = 30_000;

  /** A dialer on a virtual clock: every dial fails, and it waits exactly as long as the policy says. */
  static final class VirtualDialer {
    final DialPolicy policy;
    long now;
    final List<Action> dials = new ArrayList<>();
    final List<Long> pauses = new ArrayList<>();

    VirtualDialer(DialPolicy policy) {
      this.policy = policy;
    }

    /** Runs {@code n} failing dials, with or without a relay set. */
    void fail(int n, boolean relaySet) {
      for (int i = 0; i < n; i++) {
        Decision d = policy.next(now, LinkState.DOWN, relaySet);
        if (d.action() == Action.WAIT) {
          assertThat(d.at()).isGreaterThan(now);
          now = d.at();
          d = policy.next(now, LinkState.DOWN, relaySet);
        }
        assertThat(d.action()).isIn(Action.DIAL_DIRECT, Action.DIAL_RELAY);
        dials.add(d.action());
        long next = policy.failed(d.action() == Action.DIAL_RELAY ? Route.RELAY : Route.DIRECT, now);
        pauses.add(next - now);
        assertThat(policy.next(now, LinkState.DOWN, relaySet)).isEqualTo(new Decision(Action.WAIT, next));
      }
    }
  }

  static DialPolicy policy(long seed) {
    return new DialPolicy(MAX, PROBE, new Random(seed));
  }

  @Test
  void aFreshPeerIsDialedDirectlyAtOnce() {
    DialPolicy p = policy(1);
    assertThat(p.next(0, LinkState.DOWN, true)).isEqualTo(new Decision(Action.DIAL_DIRECT, 0));
    assertThat(p.next(0, LinkState.DOWN, false)).isEqualTo(new Decision(Action.DIAL_DIRECT, 0));
  }

  @Test
  void theBackOffDoublesFrom100MsTo5sWithAJitterOfUpToHalf() {
    VirtualDialer d = new VirtualDialer(policy(7));
    d.fail(12, false);
    long base = 100;
    for (long pause : d.pauses) {
      assertThat(pause).isBetween(base, base + base / 2);
      base = Math.min(MAX, base * 2);
    }
    // 100, 200, 400, ... 3200, then capped at 5 s
    assertThat(d.pauses.get(d.pauses.size() - 1)).isBetween(5_000L, 7_500L);
    assertThat(d.dials).containsOnly(Action.DIAL_DIRECT);
  }

  @Test
  void theMaximumBackOffIsASetting() {
    VirtualDialer d = new VirtualDialer(new DialPolicy(300, PROBE, new Random(3)));
    d.fail(6, false);
    assertThat(d.pauses.subList(2, 6)).allSatisfy(pause -> assertThat(pause).isBetween(300L, 450L));
    // never below the first step
    assertThat(new DialPolicy(10, PROBE, new Random(3)).failed(Route.DIRECT, 0)).isBetween(100L, 150L);
  }

  @Test
  void withARelayTheThirdDialGoesThroughItAndTwoFailedRelayDialsTryDirectAgain() {
    VirtualDialer d = new VirtualDialer(policy(11));
    d.fail(10, true);
    assertThat(d.dials).containsExactly(Action.DIAL_DIRECT, Action.DIAL_DIRECT, Action.DIAL_RELAY, Action.DIAL_RELAY,
        Action.DIAL_DIRECT, Action.DIAL_RELAY, Action.DIAL_RELAY, Action.DIAL_DIRECT, Action.DIAL_RELAY,
        Action.DIAL_RELAY);
  }

  @Test
  void withoutARelayEveryDialIsDirectWhateverFailedBefore() {
    VirtualDialer d = new VirtualDialer(policy(5));
    d.fail(3, true);
    assertThat(d.policy.route(false)).isEqualTo(Route.DIRECT);
    assertThat(d.policy.route(true)).isEqualTo(Route.RELAY);
  }

  @Test
  void aLinkMadeResetsTheBackOffAndALinkDownIsDialedAtOnce() {
    VirtualDialer d = new VirtualDialer(policy(13));
    d.fail(6, false);
    d.policy.dialed(Route.DIRECT, d.now);
    assertThat(d.policy.next(d.now, LinkState.UP_DIRECT, false)).isEqualTo(new Decision(Action.WAIT, DialPolicy.NEVER));
    assertThat(d.policy.next(d.now + 1, LinkState.DOWN, false)).isEqualTo(new Decision(Action.DIAL_DIRECT, d.now + 1));
    assertThat(d.policy.failed(Route.DIRECT, d.now + 1) - (d.now + 1)).isBetween(100L, 150L);
  }

  @Test
  void aRelayedLinkThatDropsIsDialedThroughTheRelayAgain() {
    VirtualDialer d = new VirtualDialer(policy(17));
    d.fail(2, true);
    d.now += 1_000;
    assertThat(d.policy.next(d.now, LinkState.DOWN, true).action()).isEqualTo(Action.DIAL_RELAY);
    d.policy.dialed(Route.RELAY, d.now);
    assertThat(d.policy.next(d.now + 5, LinkState.DOWN, true).action()).isEqualTo(Action.DIAL_RELAY);
  }

  @Test
  void aRelayedLinkTriesDirectEvery30Seconds() {
    DialPolicy p = policy(19);
    VirtualDialer d = new VirtualDialer(p);
    d.fail(2, true);
    long t = d.now + 1_000;
    p.dialed(Route.RELAY, t);
    assertThat(p.next(t, LinkState.UP_RELAYED, true)).isEqualTo(new Decision(Action.WAIT, t + PROBE));
    assertThat(p.next(t + PROBE - 1, LinkState.UP_RELAYED, true)).isEqualTo(new Decision(Action.WAIT, t + PROBE));
    assertThat(p.next(t + PROBE, LinkState.UP_RELAYED, true).action()).isEqualTo(Action.PROBE_DIRECT);
    p.probed(false, t + PROBE + 200);
    assertThat(p.next(t + PROBE + 200, LinkState.UP_RELAYED, true))
        .isEqualTo(new Decision(Action.WAIT, t + 2 * PROBE + 200));
    p.probed(true, t + 2 * PROBE + 200);
    // the probe moved the link: no more probes, and the next drop is dialed directly first
    assertThat(p.next(t + 2 * PROBE + 300, LinkState.UP_DIRECT, true)).isEqualTo(new Decision(Action.WAIT, DialPolicy.NEVER));
    assertThat(p.next(t + 2 * PROBE + 400, LinkState.DOWN, true).action()).isEqualTo(Action.DIAL_DIRECT);
  }

  @Test
  void aLinkFoundRelayedStartsItsProbeClockWhenSeen() {
    DialPolicy p = policy(23);
    assertThat(p.next(500, LinkState.UP_RELAYED, true)).isEqualTo(new Decision(Action.WAIT, 500 + PROBE));
    assertThat(p.next(600, LinkState.DOWN, true).action()).isEqualTo(Action.DIAL_DIRECT);
    // a link down forgets the probe: the next relayed link starts its own clock
    assertThat(p.next(700, LinkState.UP_RELAYED, true)).isEqualTo(new Decision(Action.WAIT, 700 + PROBE));
  }

  @Test
  void aRelayChangeEndsTheBackOffWithoutResettingIt() {
    VirtualDialer d = new VirtualDialer(policy(29));
    d.fail(5, false);
    long backoff = d.policy.backoff();
    d.policy.relayChanged(d.now + 10);
    assertThat(d.policy.next(d.now + 10, LinkState.DOWN, true).action()).isEqualTo(Action.DIAL_RELAY);
    assertThat(d.policy.backoff()).isEqualTo(backoff);
  }

  @Test
  void anyRunOfFailuresWaitsWithinItsBounds() {
    Random seeds = new Random(20261207);
    for (int run = 0; run < 200; run++) {
      long seed = seeds.nextLong();
      VirtualDialer d = new VirtualDialer(policy(seed));
      boolean relay = seeds.nextBoolean();
      d.fail(1 + seeds.nextInt(40), relay);
      long base = 100;
      long total = 0;
      for (long pause : d.pauses) {
        assertThat(pause).as("seed %d", seed).isBetween(base, base + base / 2);
        base = Math.min(MAX, base * 2);
        total += pause;
      }
      assertThat(d.now).as("seed %d", seed).isLessThanOrEqualTo(total);
      if (!relay) {
        assertThat(d.dials).as("seed %d", seed).containsOnly(Action.DIAL_DIRECT);
      } else {
        // never more than two relayed dials in a row, never a relayed one before two direct ones failed
        assertThat(d.dials.subList(0, Math.min(2, d.dials.size()))).containsOnly(Action.DIAL_DIRECT);
        assertThat(String.join("", d.dials.stream().map(a -> a == Action.DIAL_RELAY ? "R" : "D").toList()))
            .as("seed %d", seed).doesNotContain("RRR").doesNotContain("DDD");
      }
    }
  }
}
