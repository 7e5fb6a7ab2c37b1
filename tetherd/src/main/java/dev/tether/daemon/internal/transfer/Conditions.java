package dev.tether.daemon.internal.transfer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The device conditions discretionary transfers wait for: external power and an unmetered network. Read from what
 * Linux exposes ({@code /sys/class/power_supply}, NetworkManager's metered flag through {@code nmcli} when it is
 * installed) unless {@code tether conditions} overrides them.
 */
final class Conditions {
  /** The override values {@code tether conditions} stores; {@code auto} means "read the system". */
  static final String AUTO = "auto";

  private final Path powerSupplies;
  private volatile String powerOverride = AUTO;
  private volatile String networkOverride = AUTO;
  private volatile long meteredCheckedAt;
  private volatile boolean meteredCached;

  Conditions(Path powerSupplies) {
    this.powerSupplies = powerSupplies;
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

  /** {@code unmetered} or {@code metered}. */
  String network() {
    if (!AUTO.equals(networkOverride)) {
      return networkOverride;
    }
    return systemNetworkMetered() ? "metered" : "unmetered";
  }

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

  /** NetworkManager's metered flag of any connected device; cached for 30 s; false when nmcli is absent. */
  private boolean systemNetworkMetered() {
    long now = System.nanoTime();
    if (meteredCheckedAt != 0 && now - meteredCheckedAt < TimeUnit.SECONDS.toNanos(30)) {
      return meteredCached;
    }
    boolean metered = false;
    try {
      Process p = new ProcessBuilder("nmcli", "-t", "-f", "GENERAL.METERED", "device", "show")
          .redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0) {
        for (String line : out.split("\n")) {
          if (line.startsWith("GENERAL.METERED:yes")) {
            metered = true;
          }
        }
      }
    } catch (IOException e) {
      metered = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    meteredCached = metered;
    meteredCheckedAt = now;
    return metered;
  }
}
