package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.daemon.internal.transfer.NmcliOutput.Network;
import org.junit.jupiter.api.Test;

/**
 * NetworkManager's terse output as {@code nmcli -t -f STATE general} and {@code nmcli -t -f GENERAL.METERED device show}
 * print it (the states of NetworkManager's {@code NMState}, in the C locale).
 */
class NmcliOutputTest {
  @Test
  void everyConnectedStateIsANetwork() {
    assertThat(NmcliOutput.generalState("connected\n")).isEqualTo(Network.UP);
    assertThat(NmcliOutput.generalState("connected (site only)\n")).isEqualTo(Network.UP);
    assertThat(NmcliOutput.generalState("connected (local only)\n")).isEqualTo(Network.UP);
  }

  @Test
  void disconnectedAsleepAndTheStatesInBetweenAreNoNetwork() {
    assertThat(NmcliOutput.generalState("disconnected\n")).isEqualTo(Network.DOWN);
    assertThat(NmcliOutput.generalState("asleep\n")).isEqualTo(Network.DOWN);
    assertThat(NmcliOutput.generalState("connecting\n")).isEqualTo(Network.DOWN);
    assertThat(NmcliOutput.generalState("disconnecting\n")).isEqualTo(Network.DOWN);
  }

  @Test
  void unknownNothingOrAnythingElseIsUnknownSoTheRoutesDecide() {
    assertThat(NmcliOutput.generalState("unknown\n")).isEqualTo(Network.UNKNOWN);
    assertThat(NmcliOutput.generalState("")).isEqualTo(Network.UNKNOWN);
    assertThat(NmcliOutput.generalState(null)).isEqualTo(Network.UNKNOWN);
    assertThat(NmcliOutput.generalState("Error: NetworkManager is not running.\n")).isEqualTo(Network.UNKNOWN);
    assertThat(NmcliOutput.generalState("verbunden\n")).isEqualTo(Network.UNKNOWN); // a translation is not guessed at
  }

  @Test
  void theMultilineFormAndSurroundingBlanksReadTheSame() {
    assertThat(NmcliOutput.generalState("STATE:connected (local only)\n")).isEqualTo(Network.UP);
    assertThat(NmcliOutput.generalState("\n  disconnected  \r\n")).isEqualTo(Network.DOWN);
  }

  @Test
  void anyDeviceMeteredOrGuessedMeteredMakesTheNetworkMetered() {
    assertThat(NmcliOutput.anyMetered("GENERAL.METERED:no (guessed)\nGENERAL.METERED:unknown\n")).isFalse();
    assertThat(NmcliOutput.anyMetered("GENERAL.METERED:no\nGENERAL.METERED:yes (guessed)\n")).isTrue();
    assertThat(NmcliOutput.anyMetered("GENERAL.METERED:yes\n")).isTrue();
    assertThat(NmcliOutput.anyMetered("GENERAL.DEVICE:yes\n")).isFalse();
    assertThat(NmcliOutput.anyMetered(null)).isFalse();
  }
}
