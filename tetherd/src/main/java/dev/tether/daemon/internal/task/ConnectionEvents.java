package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TaskPush;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the task thread ({@code tether-tasks}), where the task service hands it the IPC server's connection events:
 * what an app connection opening or closing means for tasks. A launched process claims its wake (or is refused and
 * the claim recorded), a foreground process lifts a force quit, a running app's wake ends with its connection.
 */
final class ConnectionEvents {
  private static final Logger log = LoggerFactory.getLogger(ConnectionEvents.class);

  private final TaskStore db;
  private final AppRegistry apps;
  private final AppConnections connections;
  private final WakeRunner wakes;
  private final TaskScheduler scheduler;
  private final TetherClock clock;

  ConnectionEvents(TaskStore db, AppRegistry apps, AppConnections connections, WakeRunner wakes,
      TaskScheduler scheduler, TetherClock clock) {
    this.db = db;
    this.apps = apps;
    this.connections = connections;
    this.wakes = wakes;
    this.scheduler = scheduler;
    this.clock = clock;
  }

  void opened(ClientConnection c) {
    AppConnections.Conn s = new AppConnections.Conn(c);
    String wakeId = c.hello().path("wakeId").asText(null);
    if (wakeId != null) {
      s.launchedForWake = true;
      if (!wakes.claim(s, wakeId)) {
        refuse(c, wakeId);
      }
    } else {
      s.foreground = true;
      if (apps.clearForceQuit(c.appId()) != null) {
        log.info("{} runs in the foreground again; background launches are allowed again", c.appId());
      }
    }
    connections.add(s);
    apps.foregroundMayHaveChanged(c.appId());
    scheduler.evaluate();
  }

  void closed(ClientConnection c) {
    AppConnections.Conn s = connections.remove(c);
    apps.foregroundMayHaveChanged(c.appId());
    if (s != null && s.wake != null) {
      wakes.connectionClosed(s);
    }
    scheduler.evaluate();
  }

  private void refuse(ClientConnection c, String wakeId) {
    String message;
    if (!apps.contains(c.appId())) {
      message = "a process connected as " + c.appId() + " claiming wake " + wakeId + ", but no app " + c.appId()
          + " is registered; register it with 'tether app register " + c.appId() + " --launch CMD'";
    } else {
      message = "a process connected as " + c.appId() + " claiming wake " + wakeId
          + ", which tetherd did not start for this app or which already ended";
    }
    log.warn(message);
    Instant now = clock.now();
    CompletableFuture<Void> recorded = db.insertRefusedWake(UUID.randomUUID().toString(), c.appId(), now,
        "connection claiming wake " + wakeId, c.peerPid(), message);
    ObjectNode body = Json.object();
    body.put("wakeId", wakeId);
    body.put("code", ErrorCode.UNKNOWN_APP.name());
    body.put("message", message);
    recorded.whenComplete((v, e) -> c.push(TaskPush.TASKS_REFUSED, body));
  }
}
