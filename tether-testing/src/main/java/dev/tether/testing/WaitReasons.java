package dev.tether.testing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads the daemon's wait reasons as the kit's public {@link WaitReason}, which must name exactly the daemon's
 * reasons, in the daemon's order, then {@code READY} (the timeline's word for a task nothing holds back). Pure and
 * stateless; any thread.
 *
 * <p>The kit runs the daemon of the tetherd jar beside it, so the two lists are compared against each other at run
 * time: a kit whose list drifted from its daemon's fails with a message naming the difference at its first timeline,
 * instead of an {@code IllegalArgumentException} from {@code valueOf} on one unlucky task.
 */
final class WaitReasons {
  /** The reason the timeline adds to the daemon's: nothing holds the task back. */
  static final String READY = "READY";

  private static final String DRIFT = drift();

  private WaitReasons() {}

  /** The kit's reason the daemon wrote as {@code name}. */
  static WaitReason fromWire(String name) {
    if (!DRIFT.isEmpty()) {
      throw new IllegalStateException(DRIFT);
    }
    return WaitReason.valueOf(name);
  }

  /** The names the kit's {@link WaitReason} must have: the daemon's, in order, then {@link #READY}. */
  static List<String> expected() {
    List<String> names = new ArrayList<>();
    for (dev.tether.daemon.internal.task.WaitReason r : dev.tether.daemon.internal.task.WaitReason.values()) {
      names.add(r.name());
    }
    names.add(READY);
    return names;
  }

  /** The names of the kit's {@link WaitReason}, in order. */
  static List<String> kit() {
    return Arrays.stream(WaitReason.values()).map(Enum::name).toList();
  }

  /** Empty when the lists agree, else what differs. */
  static String drift() {
    List<String> expected = expected();
    List<String> kit = kit();
    if (expected.equals(kit)) {
      return "";
    }
    List<String> missing = new ArrayList<>(expected);
    missing.removeAll(kit);
    List<String> extra = new ArrayList<>(kit);
    extra.removeAll(expected);
    return "dev.tether.testing.WaitReason " + kit + " does not match the daemon's wait reasons plus READY " + expected
        + " (missing " + missing + ", extra " + extra + "): the tether-testing and tetherd jars must be of the same"
        + " release, and a reason added to the daemon is added to the kit's WaitReason too";
  }
}
