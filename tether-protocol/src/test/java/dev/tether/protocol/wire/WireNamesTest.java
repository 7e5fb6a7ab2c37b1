package dev.tether.protocol.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class WireNamesTest {
  private static final Pattern NAME = Pattern.compile("[a-z][a-zA-Z]*(\\.[a-z][a-zA-Z]*)*");

  private static List<WireName> all(List<? extends Class<? extends Enum<?>>> enums) {
    List<WireName> names = new ArrayList<>();
    for (Class<? extends Enum<?>> e : enums) {
      for (Enum<?> c : e.getEnumConstants()) {
        names.add((WireName) c);
      }
    }
    return names;
  }

  @Test
  void eachOperationAndPushIsDefinedOnceAndWellFormed() {
    // a push (id 0) is told from a response by its id, so a push may carry an operation's name: cx.state and
    // cx.message are both on the existing wire; within each kind a name is defined once
    assertThat(all(WireNames.OPERATIONS)).isNotEmpty();
    for (List<WireName> kind : List.of(all(WireNames.OPERATIONS), all(WireNames.PUSHES))) {
      Set<String> seen = new HashSet<>();
      for (WireName n : kind) {
        assertThat(n.wire()).as(n + " of " + n.getClass().getSimpleName()).matches(NAME);
        assertThat(seen.add(n.wire())).as(n.wire() + " is defined twice").isTrue();
      }
    }
  }

  @Test
  void eachPeerFrameTypeIsDefinedOnceAndWellFormed() {
    Set<String> seen = new HashSet<>();
    for (WireName n : all(WireNames.PEER_FRAMES)) {
      assertThat(n.wire()).as(n + " of " + n.getClass().getSimpleName()).matches(NAME);
      assertThat(seen.add(n.wire())).as(n.wire() + " is defined twice").isTrue();
    }
  }
}
