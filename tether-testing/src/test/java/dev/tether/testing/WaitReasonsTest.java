package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The kit's public wait reasons are the daemon's, so a timeline never shows a reason the kit cannot name. */
class WaitReasonsTest {
  @Test
  void theKitNamesEveryReasonOfTheDaemonInItsOrderThenReady() {
    assertThat(WaitReasons.kit()).containsExactlyElementsOf(WaitReasons.expected());
    assertThat(WaitReasons.drift()).isEmpty();
    assertThat(WaitReasons.fromWire("BUDGET")).isEqualTo(WaitReason.BUDGET);
    assertThat(WaitReasons.fromWire("READY")).isEqualTo(WaitReason.READY);
  }
}
