package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whether the device is online, from route tables and interface states laid out as Linux shows them, and from a real
 * {@code nmcli} process (a script standing in for NetworkManager's client, printing what it prints).
 */
class ConditionsTest {
  private static final String V4_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
  @TempDir Path tmp;
  Path proc;
  Path sys;
  Conditions conditions;

  @BeforeEach
  void layout() throws IOException {
    proc = Files.createDirectories(tmp.resolve("proc/net"));
    sys = Files.createDirectories(tmp.resolve("sys/class/net"));
    conditions = new Conditions(tmp.resolve("power"), proc, sys);
    iface("lo", "0x9", "unknown");
    iface("eth0", "0x1003", "up");
    iface("wlan0", "0x1002", "down");
  }

  private void iface(String name, String flags, String operstate) throws IOException {
    Path d = Files.createDirectories(sys.resolve(name));
    Files.writeString(d.resolve("flags"), flags + "\n");
    Files.writeString(d.resolve("operstate"), operstate + "\n");
  }

  private static final String ROUTED = "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0";
  private static final String LOCAL_ONLY = "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0";

  /** Conditions that run this shell script as {@code nmcli}. */
  private Conditions withNmcli(String script) throws IOException {
    Path nmcli = tmp.resolve("nmcli");
    Files.writeString(nmcli, "#!/bin/sh\n" + script + "\n");
    Files.setPosixFilePermissions(nmcli, PosixFilePermissions.fromString("rwx------"));
    return new Conditions(tmp.resolve("power"), proc, sys, nmcli.toString());
  }

  private void v4(String... lines) throws IOException {
    Files.writeString(proc.resolve("route"), V4_HEADER + String.join("\n", lines) + "\n");
  }

  @Test
  void aDefaultRouteThroughAnInterfaceThatIsUpIsOnline() throws IOException {
    v4("eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0");
    assertThat(conditions.routedInterfaceUp()).isTrue();
  }

  @Test
  void onlyALocalRouteOrADefaultRouteThroughADownInterfaceIsOffline() throws IOException {
    v4("eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
        "wlan0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
        "lo\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0");
    Files.writeString(proc.resolve("ipv6_route"),
        // the kernel's unreachable default through lo (RTF_REJECT) and a link-local route are no way out
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
        + "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n");
    assertThat(conditions.routedInterfaceUp()).isFalse();
  }

  @Test
  void anIpv6DefaultRouteAloneIsOnline() throws IOException {
    v4();
    Files.writeString(proc.resolve("ipv6_route"),
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n");
    assertThat(conditions.routedInterfaceUp()).isTrue();
  }

  @Test
  void withoutRouteTablesTransfersAreNotHeldBack() {
    assertThat(conditions.routedInterfaceUp()).isTrue();
  }

  @Test
  void aForcedNetworkWinsAndNoneIsNoGoodForDiscretionaryTransfers() {
    conditions.overrides("external", Conditions.NONE);
    assertThat(conditions.online(true)).isFalse();
    assertThat(conditions.network()).isEqualTo("none");
    assertThat(conditions.goodForDiscretionary()).isFalse();
    conditions.overrides("external", "metered");
    assertThat(conditions.online(true)).isTrue();
    conditions.overrides("external", "unmetered");
    assertThat(conditions.goodForDiscretionary()).isTrue();
  }

  @Test
  void networkManagersStateWinsOverTheRoutesWhenItKnowsIt() throws IOException {
    v4(ROUTED);
    Conditions c = withNmcli("[ \"$*\" = \"-t -f STATE general\" ] || exit 2\necho disconnected");
    assertThat(c.online(true)).isFalse();
    assertThat(c.network()).isEqualTo("none");
    v4(LOCAL_ONLY);
    c = withNmcli("[ \"$*\" = \"-t -f STATE general\" ] || exit 2\necho 'connected (site only)'");
    assertThat(c.online(true)).isTrue();
  }

  @Test
  void nmcliRunsInTheCLocaleSoItsStatesAreNotTranslated() throws IOException {
    v4(LOCAL_ONLY);
    Conditions c = withNmcli("[ \"$LC_ALL\" = C ] && echo connected || echo verbunden");
    assertThat(c.networkManagerState()).isEqualTo(NmcliOutput.Network.UP);
  }

  @Test
  void whenNetworkManagerIsNotRunningOrDoesNotKnowTheRoutesDecide() throws IOException {
    Conditions notRunning = withNmcli("echo 'Error: NetworkManager is not running.' >&2\nexit 8");
    v4(ROUTED);
    assertThat(notRunning.online(true)).isTrue();
    v4(LOCAL_ONLY);
    assertThat(notRunning.online(true)).isFalse();
    Conditions unknown = withNmcli("echo unknown");
    assertThat(unknown.online(true)).isFalse();
    v4(ROUTED);
    assertThat(unknown.online(true)).isTrue();
    Conditions failsWithAState = withNmcli("echo connected\nexit 1"); // a failed run's output is not trusted
    v4(LOCAL_ONLY);
    assertThat(failsWithAState.online(true)).isFalse();
    Conditions absent = new Conditions(tmp.resolve("power"), proc, sys, tmp.resolve("no-such-nmcli").toString());
    assertThat(absent.online(true)).isFalse();
  }

  @Test
  void aHungNmcliIsGivenUpWithinItsBoundAndLeftAloneAfterwards() throws IOException {
    v4(ROUTED);
    Conditions c = withNmcli("exec sleep 60");
    long t0 = System.nanoTime();
    assertThat(c.online(true)).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(Conditions.NMCLI_TIMEOUT_MS + 3_000));
    long t1 = System.nanoTime();
    v4(LOCAL_ONLY);
    assertThat(c.online(true)).isFalse();
    assertThat(Duration.ofNanos(System.nanoTime() - t1)).isLessThan(Duration.ofMillis(Conditions.NMCLI_TIMEOUT_MS));
  }

  @Test
  void theMeteredFlagComesFromNmcli() throws IOException {
    v4(ROUTED);
    Conditions c = withNmcli("case \"$*\" in\n*general*) echo connected ;;\n*device*) printf 'GENERAL.METERED:no\\nGENERAL.METERED:yes (guessed)\\n' ;;\nesac");
    assertThat(c.network()).isEqualTo("metered");
  }
}
