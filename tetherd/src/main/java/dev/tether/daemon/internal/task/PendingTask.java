package dev.tether.daemon.internal.task;

import java.time.Instant;

/**
 * Confined to the task thread ({@code tether-tasks}): one background task not yet finished (one row of {@code
 * task_pending}).
 */
final class PendingTask {
  enum State { PENDING, DELIVERED, COMPLETED, FAILED }

  final String id;
  final String appId;
  final TaskKind kind;
  final String sessionIdentifier;
  String userInfo;
  Instant dueAt;
  final Instant createdAt;
  State state = State.PENDING;
  String wakeId;
  String reason;
  Instant notBefore;
  int attempts;
  boolean bypassBudget;
  int coalesced;
  String failure;

  PendingTask(String id, String appId, TaskKind kind, String sessionIdentifier, Instant createdAt) {
    this.id = id;
    this.appId = appId;
    this.kind = kind;
    this.sessionIdentifier = sessionIdentifier;
    this.createdAt = createdAt;
  }

  boolean done() {
    return state == State.COMPLETED || state == State.FAILED;
  }

  String describe() {
    return kind.wire() + (sessionIdentifier == null ? "" : "(" + sessionIdentifier + ")");
  }
}
