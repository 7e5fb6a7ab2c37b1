package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Any thread reads it; the active counterpart's link reader and the connectivity executor replace its sets, each an
 * immutable value replaced whole. What the counterpart said about its apps (the {@code apps} frame): installed,
 * running, showing a complication.
 */
final class CounterpartApps {
  private volatile Set<String> installed = Set.of();
  private volatile Set<String> running = Set.of();
  private volatile Set<String> complications = Set.of();

  /** The counterpart's {@code apps} frame. */
  void told(JsonNode body) {
    running = names(body.get("running"));
    installed = names(body.get("installed"));
    complications = names(body.get("complications"));
  }

  /** The link to the counterpart dropped: none of its apps runs as far as this device knows. */
  void notRunning() {
    running = Set.of();
  }

  /** The counterpart changed: nothing is known of the new one yet. */
  void forget() {
    running = Set.of();
    installed = Set.of();
    complications = Set.of();
  }

  boolean installed(String app) {
    return installed.contains(app);
  }

  boolean running(String app) {
    return running.contains(app);
  }

  boolean showsComplication(String app) {
    return complications.contains(app);
  }

  private static Set<String> names(JsonNode a) {
    Set<String> s = new LinkedHashSet<>();
    if (a != null) {
      a.forEach(n -> s.add(n.asText()));
    }
    return Set.copyOf(s);
  }
}
