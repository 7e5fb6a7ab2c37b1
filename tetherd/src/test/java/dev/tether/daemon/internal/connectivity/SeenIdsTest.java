package dev.tether.daemon.internal.connectivity;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SeenIdsTest {
  @Test
  void theFirstBoundForgetsNothing() {
    assertThat(new SeenIds().lowReceived("p", 100)).isEmpty();
  }

  @Test
  void idsBelowTheBoundToldTheTimeBeforeAreForgotten() {
    SeenIds seen = new SeenIds();
    seen.lowReceived("p", 100);
    assertThat(seen.lowReceived("p", 250)).hasValue(100);
    assertThat(seen.lowReceived("p", 250)).hasValue(250);
    assertThat(seen.lowReceived("p", 400)).hasValue(250);
  }

  @Test
  void aBoundThatGoesDownForgetsNothing() {
    SeenIds seen = new SeenIds();
    seen.lowReceived("p", 500);
    assertThat(seen.lowReceived("p", 20)).isEmpty();
    // and the lower bound is the one remembered
    assertThat(seen.lowReceived("p", 30)).hasValue(20);
  }

  @Test
  void theBoundOfAnEmptyNewOutboxForgetsNothing() {
    SeenIds seen = new SeenIds();
    seen.lowReceived("p", 1);
    assertThat(seen.lowReceived("p", 1)).isEmpty();
    assertThat(seen.lowReceived("p", 7)).isEmpty();
  }

  @Test
  void eachPeerHasItsOwnBounds() {
    SeenIds seen = new SeenIds();
    seen.lowReceived("a", 100);
    assertThat(seen.lowReceived("b", 300)).isEmpty();
    assertThat(seen.lowReceived("a", 300)).hasValue(100);
  }

  /**
   * A sender whose items are acknowledged out of order, on a seeded random schedule: an id is never forgotten while a
   * copy of its item may still arrive, that is while it is in the outbox or was in it when the previous bound was sent
   * (a copy resent over an older link); and what the receiver keeps stays small.
   */
  @Test
  void anIdThatMayStillArriveIsNeverForgotten() {
    Random random = new Random(42);
    SeenIds policy = new SeenIds();
    TreeSet<Long> outbox = new TreeSet<>();
    Set<Long> atLastAnnouncement = Set.of();
    TreeSet<Long> seen = new TreeSet<>();
    long next = 1;
    int forgets = 0;
    for (int step = 0; step < 50_000; step++) {
      int r = random.nextInt(10);
      if (r < 4) {
        outbox.add(next++);
      } else if (r < 8 && !outbox.isEmpty()) {
        // the receiver stores one of the first few items (a resend meets its id), acks it, and the sender deletes it
        Long pick = outbox.ceiling(outbox.first() + random.nextInt(8));
        long seq = pick == null ? outbox.first() : pick;
        seen.add(seq);
        outbox.remove(seq);
      } else {
        long low = outbox.isEmpty() ? next : outbox.first();
        OptionalLong below = policy.lowReceived("p", low);
        if (below.isPresent()) {
          long bound = below.getAsLong();
          Set<Long> mayArrive = new HashSet<>(outbox);
          mayArrive.addAll(atLastAnnouncement);
          assertThat(mayArrive).allMatch(s -> s >= bound);
          seen.headSet(bound).clear();
          forgets++;
        }
        atLastAnnouncement = Set.copyOf(outbox);
      }
    }
    assertThat(forgets).isGreaterThan(1000);
    assertThat(seen.size()).as("cx_seen is pruned").isLessThan(200);
  }
}
