package dev.tether.daemon.internal.transfer;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Any thread may call it; guarded by its own monitor: the control executor takes slots and a worker gives its slot
 * back as its attempt ends and starts the next waiter itself (no hand-off on that path). Counts the attempts running
 * per session and host, at most the session's {@code maxConnectionsPerHost}, and queues the rest in order.
 */
final class HostSlots {
  private static final class Slot {
    int active;
    final Deque<Long> waiting = new ArrayDeque<>();
  }

  private final Map<String, Slot> slots = new HashMap<>();

  /** Takes a slot for {@code id} and returns true, or queues it and returns false when {@code max} run already. */
  synchronized boolean take(String slotKey, long id, int max) {
    Slot s = slots.computeIfAbsent(slotKey, k -> new Slot());
    if (s.active < max) {
      s.active++;
      return true;
    }
    s.waiting.add(id);
    return false;
  }

  /** Gives a slot back: returns the queued transfer that takes it over, or null when none waits. */
  synchronized Long release(String slotKey) {
    Slot s = slots.get(slotKey);
    if (s == null) {
      return null;
    }
    Long next = s.waiting.poll();
    if (next == null) {
      s.active--;
      if (s.active == 0) {
        slots.remove(slotKey);
      }
    }
    return next;
  }
}
