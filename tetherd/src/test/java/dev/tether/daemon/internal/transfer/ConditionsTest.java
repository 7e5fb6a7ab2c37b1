package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whether the device is online, from route tables and interface states laid out as Linux shows them. */
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
}
