package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TaskPush;
import java.util.List;

/**
 * Stateless, called on the task thread ({@code tether-tasks}) by {@link WakeRunner}: what a wake pushes to the app's
 * connection ({@link TaskPush}: its tasks, their expiration, the request to exit) and in which JSON.
 */
final class WakePushes {
  private WakePushes() {}

  /** {@code tasks}: hands {@code list} to the wake's process. */
  static void tasks(Wake w, List<PendingTask> list) {
    ArrayNode arr = Json.array();
    for (PendingTask t : list) {
      ObjectNode o = arr.addObject();
      o.put("id", t.id);
      o.put("kind", t.kind.wire());
      if (t.sessionIdentifier != null) {
        o.put("sessionIdentifier", t.sessionIdentifier);
      }
      if (t.userInfo != null) {
        o.set("userInfo", Json.parse(t.userInfo));
      }
      if (t.reason != null) {
        o.put("reason", t.reason);
      }
    }
    ObjectNode body = Json.object();
    body.put("wakeId", w.id);
    body.put("launched", w.launched);
    if (w.expireAt != null) {
      body.put("expiresAt", w.expireAt.toEpochMilli());
    }
    body.set("tasks", arr);
    w.connection.push(TaskPush.TASKS, body);
  }

  /** {@code tasks.expiring} ({@code expired} false) or {@code tasks.expired}: the allowance ends for these tasks. */
  static void expiration(Wake w, ArrayNode taskIds, boolean expired) {
    ObjectNode body = Json.object();
    body.put("wakeId", w.id);
    body.set("taskIds", taskIds);
    w.connection.push(expired ? TaskPush.TASKS_EXPIRED : TaskPush.TASKS_EXPIRING, body);
  }

  /** {@code app.exit}: the wake's process is asked to exit. */
  static void exit(Wake w, String reason) {
    ObjectNode exit = Json.object();
    exit.put("wakeId", w.id);
    exit.put("reason", reason);
    w.connection.push(TaskPush.APP_EXIT, exit);
  }
}
