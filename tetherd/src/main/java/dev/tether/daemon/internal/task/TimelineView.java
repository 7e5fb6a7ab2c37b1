package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import java.time.Instant;

/**
 * Runs on the task thread ({@code tether-tasks}), which owns what it reads (the timeline's wakes are read from the
 * store there): the JSON answers that show apps and wakes, an app with its budget ({@code app.list},
 * {@code app.register}, {@code app.budget}) and the timeline (recorded wakes, open wakes with their phase, waiting
 * tasks with why they wait).
 */
final class TimelineView {
  private final TaskStore db;
  private final AppRegistry apps;
  private final TaskQueue queue;
  private final WakeRunner wakes;
  private final AppConnections connections;
  private final WakeAdmission admission;
  private final TaskScheduler scheduler;
  private final TetherClock clock;

  TimelineView(TaskStore db, AppRegistry apps, TaskQueue queue, WakeRunner wakes, AppConnections connections,
      WakeAdmission admission, TaskScheduler scheduler, TetherClock clock) {
    this.db = db;
    this.apps = apps;
    this.queue = queue;
    this.wakes = wakes;
    this.connections = connections;
    this.admission = admission;
    this.scheduler = scheduler;
    this.clock = clock;
  }

  /** {@code app.list}: every registered app. */
  ObjectNode apps() {
    Instant now = clock.now();
    ArrayNode arr = Json.array();
    for (AppConfig app : apps.all()) {
      arr.add(app(app, now));
    }
    ObjectNode r = Json.object();
    r.set("apps", arr);
    return r;
  }

  /** One app: its settings, whether it runs, its pending tasks and its budget now. */
  ObjectNode app(AppConfig app, Instant now) {
    ObjectNode o = Json.object();
    o.put("app", app.appId);
    o.put("launch", app.launchCommand);
    o.put("allowanceMs", app.allowance.toMillis());
    o.put("complicationActive", app.complicationActive);
    if (app.wakesPerHour == null) {
      o.putNull("wakesPerHourSetting");
    } else {
      o.put("wakesPerHourSetting", app.wakesPerHour);
    }
    o.put("dailyRuntimeMs", app.dailyRuntime.toMillis());
    o.put("urlSessionSpacingMs", app.urlSessionSpacing.toMillis());
    o.put("forceQuit", app.forceQuit);
    o.put("running", connections.connected(app.appId) || wakes.hasOpen(app.appId));
    o.put("foreground", connections.inForeground(app.appId));
    o.put("registeredAt", app.registeredAt == null ? null : app.registeredAt.toString());
    o.put("pendingTasks", queue.unfinished(app.appId));
    Budget b = admission.budget(app, now);
    ObjectNode bj = o.putObject("budget");
    bj.put("wakesPerHour", b.wakesPerHour);
    bj.put("wakesUsed", b.wakesUsed);
    bj.put("wakesRemaining", b.wakesRemaining());
    bj.put("windowFreesAt", b.windowFreesAt == null ? null : b.windowFreesAt.toString());
    bj.put("runtimeDailyMs", b.runtimeDailyMs);
    bj.put("runtimeUsedMs", b.runtimeUsedMs);
    bj.put("runtimeRemainingMs", b.runtimeRemainingMs());
    bj.put("runtimeFreesAt", b.runtimeFreesAt == null ? null : b.runtimeFreesAt.toString());
    bj.put("nextUrlSessionWakeAt", b.nextUrlSessionAt == null ? null : b.nextUrlSessionAt.toString());
    return o;
  }

  /** {@code timeline}: the newest wakes (open ones with their phase and tasks now) and the tasks waiting. */
  ObjectNode timeline(TaskRequests.Timeline request) {
    String app = request.app();
    if (app != null && !apps.contains(app)) {
      boolean known = queue.anyOf(app) || db.hasWakes(app);
      if (!known) {
        throw AppRegistry.unknownApp(app);
      }
    }
    Instant now = clock.now();
    ArrayNode wakesJson = Json.array();
    for (TaskStore.WakeRow row : db.timeline(app, request.limit())) {
      ObjectNode o = wakesJson.addObject();
      o.put("id", row.id());
      o.put("app", row.appId());
      o.put("startedAt", Instant.ofEpochMilli(row.startedAt()).toString());
      o.put("endedAt", row.endedAt() == null ? null : Instant.ofEpochMilli(row.endedAt()).toString());
      o.put("launched", row.launched());
      o.put("reason", row.reason());
      o.set("tasks", Json.parse(row.tasks()));
      o.put("outcome", row.outcome());
      if (row.pid() != null) {
        o.put("pid", row.pid());
      }
      if (row.durationMs() != null) {
        o.put("durationMs", row.durationMs());
      }
      o.put("overrunMs", row.overrunMs());
      o.put("chargedMs", row.chargedMs());
      o.put("error", row.error());
    }
    for (JsonNode n : wakesJson) {
      ObjectNode o = (ObjectNode) n;
      Wake open = wakes.get(o.path("id").asText());
      if (open != null && o.path("outcome").isNull()) {
        o.put("phase", open.phase.name());
        o.set("tasks", TaskJson.of(open, true));
        o.put("durationMs", now.toEpochMilli() - open.started.toEpochMilli());
      }
    }
    ArrayNode waiting = Json.array();
    for (PendingTask t : queue.all()) {
      if ((app != null && !t.appId.equals(app)) || t.state != PendingTask.State.PENDING || t.wakeId != null) {
        continue;
      }
      ObjectNode o = TaskJson.entry(t);
      o.put("app", t.appId);
      o.put("dueAt", t.dueAt.toString());
      o.put("createdAt", t.createdAt.toString());
      Waiting w = scheduler.waiting(t, now);
      o.put("reason", w == null ? "READY" : w.reason().name());
      o.put("until", w == null || w.until() == null ? null : w.until().toString());
      o.put("detail", w == null ? "about to be delivered" : w.detail());
      if (t.reason != null) {
        o.put("cause", t.reason);
      }
      waiting.add(o);
    }
    ObjectNode r = Json.object();
    r.put("now", now.toString());
    r.set("wakes", wakesJson);
    r.set("waiting", waiting);
    return r;
  }
}
