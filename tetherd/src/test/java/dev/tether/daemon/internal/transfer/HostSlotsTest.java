package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HostSlotsTest {
  @Test
  void atMostMaxRunPerHostAndTheRestTakeOverInOrder() {
    HostSlots slots = new HostSlots();
    assertThat(slots.take("a|s|h:443", 1, 2)).isTrue();
    assertThat(slots.take("a|s|h:443", 2, 2)).isTrue();
    assertThat(slots.take("a|s|h:443", 3, 2)).isFalse();
    assertThat(slots.take("a|s|h:443", 4, 2)).isFalse();
    assertThat(slots.take("a|s|other:443", 5, 2)).as("another host has slots of its own").isTrue();
    assertThat(slots.release("a|s|h:443")).isEqualTo(3L);
    assertThat(slots.release("a|s|h:443")).isEqualTo(4L);
    assertThat(slots.release("a|s|h:443")).isNull();
    assertThat(slots.release("a|s|h:443")).isNull();
    assertThat(slots.take("a|s|h:443", 6, 2)).as("both slots given back").isTrue();
    assertThat(slots.take("a|s|h:443", 7, 2)).isTrue();
    assertThat(slots.take("a|s|h:443", 8, 2)).isFalse();
  }
}
