package dev.tether.daemon.internal.connectivity;

import dev.tether.daemon.internal.ipc.ClientConnection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Owned by the connectivity executor ({@code tether-connectivity}): only it calls {@link #activate}, {@link #closed},
 * {@link #current} and {@link #clear}; other threads (link readers, file senders) hand it work with {@code execute},
 * or read {@link #of} and {@link #all}, an immutable snapshot the owner publishes after each change. The activated
 * connectivity sessions per app, newest last; the newest open one receives deliveries.
 */
final class Sessions {
  private final Map<String, List<ClientConnection>> byApp = new HashMap<>();
  private volatile Map<String, List<ClientConnection>> published = Map.of();

  /** {@code c} activated a session of {@code app}: it is the newest now. Owner only. */
  void activate(String app, ClientConnection c) {
    List<ClientConnection> list = byApp.computeIfAbsent(app, k -> new ArrayList<>());
    list.remove(c);
    list.add(c);
    publish();
  }

  /** The connection closed; false if it had no session. Owner only. */
  boolean closed(ClientConnection c) {
    List<ClientConnection> list = byApp.get(c.appId());
    if (list == null || !list.remove(c)) {
      return false;
    }
    publish();
    return true;
  }

  /** The app's newest open session, forgetting closed ones; null when none is open. Owner only. */
  ClientConnection current(String app) {
    List<ClientConnection> list = byApp.get(app);
    if (list == null) {
      return null;
    }
    if (list.removeIf(x -> !x.isOpen())) {
      publish();
    }
    return list.isEmpty() ? null : list.get(list.size() - 1);
  }

  /** Forgets every session (the paired device changed). Owner only. */
  void clear() {
    byApp.clear();
    publish();
  }

  /** The app's sessions as last published, oldest first; any thread. */
  List<ClientConnection> of(String app) {
    return published.getOrDefault(app, List.of());
  }

  /** Every app's sessions as last published; any thread. */
  Map<String, List<ClientConnection>> all() {
    return published;
  }

  private void publish() {
    Map<String, List<ClientConnection>> snapshot = new HashMap<>();
    byApp.forEach((app, list) -> snapshot.put(app, List.copyOf(list)));
    published = Map.copyOf(snapshot);
  }
}
