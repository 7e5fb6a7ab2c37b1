package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Json;

/**
 * Stateless, called on the task thread ({@code tether-tasks}), which owns the tasks it reads: the JSON of tasks as
 * the wake timeline records and shows them.
 */
final class TaskJson {
  private TaskJson() {}

  /** A task as the timeline shows it: id, kind, session, user info, how often coalesced and tried. */
  static ObjectNode entry(PendingTask t) {
    ObjectNode j = Json.object();
    j.put("id", t.id);
    j.put("kind", t.kind.wire());
    if (t.sessionIdentifier != null) {
      j.put("sessionIdentifier", t.sessionIdentifier);
    }
    if (t.userInfo != null) {
      j.set("userInfo", Json.parse(t.userInfo));
    }
    j.put("coalesced", t.coalesced);
    if (t.attempts > 0) {
      j.put("attempts", t.attempts);
    }
    return j;
  }

  /** The tasks of a wake, with their states when {@code withState}. */
  static ArrayNode of(Wake w, boolean withState) {
    ArrayNode arr = Json.array();
    for (PendingTask t : w.tasks) {
      ObjectNode j = entry(t);
      if (withState) {
        j.put("state", t.state.name().toLowerCase());
      }
      arr.add(j);
    }
    return arr;
  }
}
