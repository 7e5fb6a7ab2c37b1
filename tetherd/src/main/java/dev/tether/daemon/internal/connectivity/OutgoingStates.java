package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Any thread: concurrent maps shared by the capture (IPC reader), cancels (store writer's completion) and the per-link
 * file senders. What is known in memory of outgoing transfers: files still being captured, files cancelled while they
 * may be on their way, and the files and apps' user info the paired device refused for now.
 */
final class OutgoingStates {
  /** Outgoing files still being captured (by id), which their sender reads behind the copy. */
  final Map<String, Snapshot> captures = new ConcurrentHashMap<>();
  /** File transfers the app cancelled while they may be on their way: the sender stops sending them. */
  final Set<String> cancelled = ConcurrentHashMap.newKeySet();
  /** Outgoing files the paired device refused for now (by id): the refusal, until a later attempt gets further. */
  final Map<String, ObjectNode> blocked = new ConcurrentHashMap<>();
  /** User info a sender app queued that the paired device refused for now, per app: the refusal it was told. */
  final Map<String, ObjectNode> blockedInfo = new ConcurrentHashMap<>();
}
