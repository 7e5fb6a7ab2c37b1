package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.time.TetherClock;
import java.time.Instant;

/**
 * Any thread may call it (it only reads concurrent state): a transfer's snapshot as apps see it, its row with the live
 * byte count (and length, once its response said it) of a running attempt, why it waits, if it does, why its last
 * attempt failed ({@code lastError}) and, while it backs off, when it tries again ({@code nextAttemptAt}).
 */
final class TransferView {
  private final TetherClock clock;
  private AttemptRunner runner;
  private Scheduler scheduler;
  private NetworkWatch network;

  TransferView(TetherClock clock) {
    this.clock = clock;
  }

  void wire(AttemptRunner runner, Scheduler scheduler, NetworkWatch network) {
    this.runner = runner;
    this.scheduler = scheduler;
    this.network = network;
  }

  ObjectNode snapshot(TransferRow r) {
    AttemptRunner.Running run = runner.running(r.id());
    long live = run != null && TransferRow.RUNNING.equals(r.state()) ? run.bytes : -1;
    String waiting = null;
    if (TransferRow.RUNNING.equals(r.state())) {
      long now = clock.now().toEpochMilli();
      if (TransferRow.CHALLENGE.equals(r.phase())) {
        waiting = "authentication";
      } else if (r.earliestBegin() != null && r.earliestBegin() > now) {
        waiting = "earliestBeginDate";
      } else if (r.nextAttemptAt() > now) {
        waiting = "retry";
      } else if (network.isWaiting(r.id())) {
        waiting = "network";
      } else if (scheduler.isWaitingForConditions(r.id())) {
        waiting = "conditions";
      } else if (run == null && scheduler.isQueued(r.id())) {
        waiting = "connection";
      }
    }
    ObjectNode o = r.toJson(live, waiting);
    if (run != null && live >= 0 && run.total >= 0) {
      // a small body's length is not stored (no store write per small download): the running attempt knows it
      o.put("bytesExpected", run.total);
    }
    if (TransferRow.RUNNING.equals(r.state()) && r.errorCode() == null && r.errorMessage() != null) {
      o.put("lastError", r.errorMessage()); // why the last attempt failed (or why it waits for a network)
    }
    if ("retry".equals(waiting)) {
      o.put("nextAttemptAt", Instant.ofEpochMilli(r.nextAttemptAt()).toString());
    }
    return o;
  }
}
