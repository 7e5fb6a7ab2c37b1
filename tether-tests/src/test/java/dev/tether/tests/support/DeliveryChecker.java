package dev.tether.tests.support;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A verdict in the style of Jepsen's total-queue checker: per message id what was attempted, acknowledged to the
 * sender and received by the app; lost (acknowledged, never received), duplicated (received more than once),
 * unexpected (received, never attempted) and out of order (received after a later one from the same sender).
 */
public final class DeliveryChecker {
  private final Set<Long> attempted = new TreeSet<>();
  private final Set<Long> acknowledged = new TreeSet<>();
  private final List<Long> received = new ArrayList<>();

  public void attempted(long id) {
    attempted.add(id);
  }

  public void acknowledged(long id) {
    acknowledged.add(id);
  }

  public void received(long id) {
    received.add(id);
  }

  /** The verdict. */
  public record Verdict(int attempted, int acknowledged, int received, List<Long> lost, List<Long> duplicated,
      List<Long> unexpected, List<Long> outOfOrder) {
    public boolean valid() {
      return lost.isEmpty() && duplicated.isEmpty() && unexpected.isEmpty() && outOfOrder.isEmpty();
    }

    @Override
    public String toString() {
      return "attempted " + attempted + ", acknowledged " + acknowledged + ", received " + received + "; lost "
          + head(lost) + ", duplicated " + head(duplicated) + ", unexpected " + head(unexpected) + ", out of order " + head(outOfOrder);
    }

    private static String head(List<Long> l) {
      return l.size() + (l.isEmpty() ? "" : " " + l.subList(0, Math.min(10, l.size())));
    }
  }

  public Verdict check() {
    Map<Long, Integer> counts = new LinkedHashMap<>();
    List<Long> outOfOrder = new ArrayList<>();
    long last = Long.MIN_VALUE;
    for (long id : received) {
      counts.merge(id, 1, Integer::sum);
      if (id <= last && counts.get(id) == 1) {
        outOfOrder.add(id);
      }
      last = Math.max(last, id);
    }
    List<Long> lost = new ArrayList<>();
    for (long id : acknowledged) {
      if (!counts.containsKey(id)) {
        lost.add(id);
      }
    }
    List<Long> duplicated = new ArrayList<>();
    List<Long> unexpected = new ArrayList<>();
    counts.forEach((id, n) -> {
      if (n > 1) {
        duplicated.add(id);
      }
      if (!attempted.contains(id)) {
        unexpected.add(id);
      }
    });
    return new Verdict(attempted.size(), acknowledged.size(), received.size(), lost, duplicated, unexpected, outOfOrder);
  }
}
