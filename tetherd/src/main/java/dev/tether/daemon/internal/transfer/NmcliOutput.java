package dev.tether.daemon.internal.transfer;

import java.util.Locale;

/**
 * Pure, so any thread may call it. Reads what NetworkManager's command-line client prints in terse mode ({@code nmcli
 * -t}, run with {@code LC_ALL=C}). Pure functions of the text, so every documented state is tested without
 * NetworkManager.
 */
final class NmcliOutput {
  /** What NetworkManager's overall state says about reaching hosts other than this machine. */
  enum Network {
    /** {@code connected}, {@code connected (site only)}, {@code connected (local only)}: some network is up. */
    UP,
    /** {@code disconnected}, {@code disconnecting}, {@code connecting}, {@code asleep}: apps should not use the network. */
    DOWN,
    /** {@code unknown}, or output that is no state at all: NetworkManager cannot tell, so ask the kernel's routes. */
    UNKNOWN
  }

  private NmcliOutput() {}

  /**
   * The state printed by {@code nmcli -t -f STATE general} ({@code connected}; the multiline form
   * {@code STATE:connected} is read too). NetworkManager's documentation of {@code NMState}: {@code connected} is global
   * connectivity; {@code connected (site only)} a default route without a working Internet check (a captive portal);
   * {@code connected (local only)} only directly attached networks, no default route. Each of those is a network a
   * transfer may use (its host may well be on the local network or site; a host it cannot reach fails the attempt and
   * the ordinary back-off applies). {@code connecting} ("applications should still make no attempts to connect the
   * network"), {@code disconnecting}, {@code disconnected} and {@code asleep} (networking disabled, or suspend) are
   * no network. {@code unknown} ("a daemon error that makes it unable to reasonably assess the state") is unknown.
   */
  static Network generalState(String output) {
    if (output == null) {
      return Network.UNKNOWN;
    }
    String state = null;
    for (String line : output.split("\\R")) {
      String l = line.strip();
      if (l.isEmpty()) {
        continue;
      }
      if (l.regionMatches(true, 0, "STATE:", 0, 6)) {
        l = l.substring(6).strip();
      }
      state = l.toLowerCase(Locale.ROOT);
      break;
    }
    if (state == null) {
      return Network.UNKNOWN;
    }
    return switch (state) {
      case "connected", "connected (site only)", "connected (local only)" -> Network.UP;
      case "connecting", "disconnecting", "disconnected", "asleep" -> Network.DOWN;
      default -> Network.UNKNOWN;
    };
  }

  /**
   * Whether any device is metered, from {@code nmcli -t -f GENERAL.METERED device show}: one line per device,
   * {@code GENERAL.METERED:yes}, {@code yes (guessed)}, {@code no}, {@code no (guessed)} or {@code unknown} (a device
   * that is not connected).
   */
  static boolean anyMetered(String output) {
    if (output == null) {
      return false;
    }
    for (String line : output.split("\\R")) {
      String l = line.strip();
      int colon = l.indexOf(':');
      if (colon < 0 || !l.substring(0, colon).equalsIgnoreCase("GENERAL.METERED")) {
        continue;
      }
      String v = l.substring(colon + 1).strip().toLowerCase(Locale.ROOT);
      if (v.equals("yes") || v.startsWith("yes ")) {
        return true;
      }
    }
    return false;
  }
}
