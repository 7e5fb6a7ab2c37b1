package dev.tether.daemon.internal.transfer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any thread may read it (volatile fields; the system reading under its own lock); the control executor sets the
 * overrides. The device conditions transfers wait for: a network at all (every transfer to a non-loopback host), and
 * external power and an unmetered network (discretionary transfers). Read from what Linux exposes ({@code
 * /sys/class/power_supply}, NetworkManager's state and metered flag through {@code nmcli} when it is installed and
 * answers, else the default routes in {@code /proc/net/route} and {@code /proc/net/ipv6_route}) unless {@code tether
 * conditions} overrides them.
 */
final class Conditions {
  /** The override values {@code tether conditions} stores; {@code auto} means "read the system". */
  static final String AUTO = "auto";

  /** The network value meaning "no network at all". */
  static final String NONE = "none";
  /** How long a system reading of whether the device is online is reused. */
  static final long ONLINE_CACHE_NANOS = TimeUnit.SECONDS.toNanos(5);

  /** How long one {@code nmcli} run may take before its answer is given up for the kernel's routes. */
  static final long NMCLI_TIMEOUT_MS = 2_000;
  /** After {@code nmcli} hung, how long it is not asked again (the routes answer meanwhile). */
  static final long NMCLI_HUNG_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(60);
  private static final Logger log = LoggerFactory.getLogger(Conditions.class);

  private final Path powerSupplies;
  private final Path procNet;
  private final Path sysNet;
  private final String nmcli;
  private volatile long nmcliHungAt;
  private volatile String powerOverride = AUTO;
  private volatile String networkOverride = AUTO;
  private volatile long meteredCheckedAt;
  private volatile boolean meteredCached;
  private volatile long onlineCheckedAt;
  private volatile boolean onlineCached;

  /** {@code /sys/class/power_supply}, {@code /proc/net} and {@code /sys/class/net} on a real device. */
  Conditions(Path powerSupplies, Path procNet, Path sysNet) {
    this(powerSupplies, procNet, sysNet, "nmcli");
  }

  /** With {@code nmcli} the NetworkManager client to run (a name looked up on {@code PATH}, or a path). */
  Conditions(Path powerSupplies, Path procNet, Path sysNet, String nmcli) {
    this.powerSupplies = powerSupplies;
    this.procNet = procNet;
    this.sysNet = sysNet;
    this.nmcli = nmcli;
  }

  void overrides(String power, String network) {
    this.powerOverride = power == null ? AUTO : power;
    this.networkOverride = network == null ? AUTO : network;
  }

  String powerOverride() {
    return powerOverride;
  }

  String networkOverride() {
    return networkOverride;
  }

  /** {@code external} or {@code battery}. */
  String power() {
    if (!AUTO.equals(powerOverride)) {
      return powerOverride;
    }
    return systemOnExternalPower() ? "external" : "battery";
  }

  /** {@code unmetered}, {@code metered} or {@code none}. */
  String network() {
    if (!AUTO.equals(networkOverride)) {
      return networkOverride;
    }
    if (!systemOnline(false)) {
      return NONE;
    }
    return systemNetworkMetered() ? "metered" : "unmetered";
  }

  /** Whether the device has a network; {@code fresh} reads the system again instead of a reading up to 5 s old. */
  boolean online(boolean fresh) {
    if (!AUTO.equals(networkOverride)) {
      return !NONE.equals(networkOverride);
    }
    return systemOnline(fresh);
  }

  /** External power and an unmetered network ({@code none} is not). */
  boolean goodForDiscretionary() {
    return "external".equals(power()) && "unmetered".equals(network());
  }

  /** Mains or USB supply online, or no battery at all (a desktop or server), counts as external power. */
  private boolean systemOnExternalPower() {
    boolean battery = false;
    boolean external = false;
    if (!Files.isDirectory(powerSupplies)) {
      return true;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(powerSupplies)) {
      for (Path p : ds) {
        String type = read(p.resolve("type"));
        if ("Battery".equalsIgnoreCase(type)) {
          battery = true;
        } else if ("1".equals(read(p.resolve("online")))) {
          external = true;
        }
      }
    } catch (IOException e) {
      return true;
    }
    return external || !battery;
  }

  private static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.US_ASCII).trim();
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * NetworkManager's overall state ({@link NmcliOutput#generalState}) when it runs and knows it; else whether a
   * non-loopback interface that is up carries a default route. Cached for 5 s.
   */
  private synchronized boolean systemOnline(boolean fresh) {
    long now = System.nanoTime();
    if (!fresh && onlineCheckedAt != 0 && now - onlineCheckedAt < ONLINE_CACHE_NANOS) {
      return onlineCached;
    }
    boolean online = switch (networkManagerState()) {
      case UP -> true;
      case DOWN -> false;
      case UNKNOWN -> routedInterfaceUp();
    };
    onlineCached = online;
    onlineCheckedAt = System.nanoTime();
    return online;
  }

  /**
   * NetworkManager's answer; {@code UNKNOWN} when {@code nmcli} is not installed, fails (exit status not 0, as with
   * "Error: NetworkManager is not running."), prints no state, or does not answer within {@value #NMCLI_TIMEOUT_MS} ms
   * (then it is left alone for a minute).
   */
  NmcliOutput.Network networkManagerState() {
    String out = runNmcli("-t", "-f", "STATE", "general");
    return out == null ? NmcliOutput.Network.UNKNOWN : NmcliOutput.generalState(out);
  }

  /** {@code nmcli ARGS} in the C locale: its standard output, or null when it is absent, failed or hung. */
  private String runNmcli(String... args) {
    long hung = nmcliHungAt;
    if (hung != 0 && System.nanoTime() - hung < NMCLI_HUNG_PAUSE_NANOS) {
      return null;
    }
    java.util.List<String> cmd = new java.util.ArrayList<>();
    cmd.add(nmcli);
    cmd.addAll(java.util.List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("LC_ALL", "C");
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return null; // not installed
    }
    try {
      // its output is a line or two, far below a pipe's buffer: wait first, so a hung nmcli cannot hold a read
      if (!p.waitFor(NMCLI_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        nmcliHungAt = System.nanoTime();
        log.warn("{} {} did not answer within {} ms; using the kernel's routes for a minute", nmcli, String.join(" ", args),
            NMCLI_TIMEOUT_MS);
        return null;
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return p.exitValue() == 0 ? out : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      return null;
    } finally {
      try {
        p.getInputStream().close();
      } catch (IOException e) {
        // nothing left to read
      }
    }
  }

  /**
   * Whether {@code /proc/net/route} or {@code /proc/net/ipv6_route} holds a default route through a non-loopback
   * interface that is up; true when neither can be read (not Linux: never hold transfers back on a guess).
   */
  boolean routedInterfaceUp() {
    Path v4 = procNet.resolve("route");
    Path v6 = procNet.resolve("ipv6_route");
    if (!Files.isReadable(v4) && !Files.isReadable(v6)) {
      return true;
    }
    try {
      if (Files.isReadable(v4)) {
        for (String line : Files.readAllLines(v4, StandardCharsets.US_ASCII)) {
          String[] f = line.trim().split("\\s+");
          // Iface Destination Gateway Flags ... Mask: a default route has destination and mask 0 and RTF_UP
          if (f.length >= 8 && f[1].equals("00000000") && f[7].equals("00000000") && (parseHex(f[3]) & 1) != 0
              && interfaceUp(f[0])) {
            return true;
          }
        }
      }
      if (Files.isReadable(v6)) {
        for (String line : Files.readAllLines(v6, StandardCharsets.US_ASCII)) {
          String[] f = line.trim().split("\\s+");
          // dest prefix src prefix nexthop metric refcnt use flags iface: ::/0, RTF_UP, not RTF_REJECT (0x200)
          if (f.length >= 10 && f[0].matches("0{32}") && f[1].equals("00") && (parseHex(f[8]) & 1) != 0
              && (parseHex(f[8]) & 0x200) == 0 && interfaceUp(f[9])) {
            return true;
          }
        }
      }
    } catch (IOException e) {
      return true;
    }
    return false;
  }

  private static long parseHex(String s) {
    try {
      return Long.parseLong(s, 16);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** Not loopback, and administratively up ({@code IFF_UP}) and not reported down. */
  private boolean interfaceUp(String iface) {
    if (iface.equals("lo") || iface.contains("/") || iface.contains("..")) {
      return false;
    }
    Path dev = sysNet.resolve(iface);
    String flags = read(dev.resolve("flags"));
    if (flags.startsWith("0x") && (parseHex(flags.substring(2)) & 0x8) != 0) {
      return false; // IFF_LOOPBACK
    }
    if (flags.startsWith("0x") && (parseHex(flags.substring(2)) & 0x1) == 0) {
      return false;
    }
    String oper = read(dev.resolve("operstate"));
    return !oper.equals("down") && !oper.equals("lowerlayerdown") && !oper.equals("notpresent");
  }

  /** NetworkManager's metered flag of any connected device; cached for 30 s; false when nmcli is absent. */
  private boolean systemNetworkMetered() {
    long now = System.nanoTime();
    if (meteredCheckedAt != 0 && now - meteredCheckedAt < TimeUnit.SECONDS.toNanos(30)) {
      return meteredCached;
    }
    boolean metered = NmcliOutput.anyMetered(runNmcli("-t", "-f", "GENERAL.METERED", "device", "show"));
    meteredCached = metered;
    meteredCheckedAt = now;
    return metered;
  }
}
