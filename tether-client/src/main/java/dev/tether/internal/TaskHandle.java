package dev.tether.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/** The state behind one background task object: its id, kind and data, and its completion (exactly once). */
public final class TaskHandle {
  private final BackgroundTasks owner;
  private final String id;
  private final String kind;
  private final String wakeId;
  private final String sessionIdentifier;
  private final Map<String, Object> userInfo;
  private final AtomicBoolean completed = new AtomicBoolean();
  private volatile boolean expired;
  private volatile Runnable expirationHandler;

  TaskHandle(BackgroundTasks owner, String wakeId, ObjectNode json) {
    this.owner = owner;
    this.wakeId = wakeId;
    this.id = json.path("id").asText();
    this.kind = json.path("kind").asText();
    this.sessionIdentifier = json.path("sessionIdentifier").asText(null);
    Map<String, Object> info = json.path("userInfo").isObject()
        ? plainMap(json.get("userInfo"))
        : Map.of();
    this.userInfo = Collections.unmodifiableMap(info);
  }

  /**
   * The JSON object as plain Java values, as {@code ObjectMapper.convertValue} to a map gives them (objects as
   * {@link LinkedHashMap}, arrays as {@link ArrayList}, numbers as Integer, Long, BigInteger or Double by their JSON
   * form), without building an {@code ObjectMapper} on a freshly launched app's way to its first task.
   */
  static Map<String, Object> plainMap(JsonNode object) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : object.properties()) {
      map.put(e.getKey(), plain(e.getValue()));
    }
    return map;
  }

  private static Object plain(JsonNode n) {
    if (n.isObject()) {
      return plainMap(n);
    }
    if (n.isArray()) {
      List<Object> list = new ArrayList<>(n.size());
      for (JsonNode e : n) {
        list.add(plain(e));
      }
      return list;
    }
    if (n.isNumber()) {
      return n.numberValue();
    }
    if (n.isTextual()) {
      return n.textValue();
    }
    if (n.isBoolean()) {
      return n.booleanValue();
    }
    return null;
  }

  public String id() {
    return id;
  }

  /** The wire name of the kind: appRefresh, urlSession or connectivity. */
  public String kind() {
    return kind;
  }

  String wakeId() {
    return wakeId;
  }

  public String sessionIdentifier() {
    return sessionIdentifier;
  }

  public Map<String, Object> userInfo() {
    return userInfo;
  }

  public boolean isCompleted() {
    return completed.get();
  }

  /**
   * Completes the task; a second call throws TASK_ALREADY_COMPLETED. A call after the task expired does nothing (it
   * sends nothing and the expiry stays): work that ends on another thread just after the allowance ran out is the
   * common race, not a mistake of the app.
   */
  public void complete() {
    complete(false, null);
  }

  void complete(boolean failed, String error) {
    if (!completed.compareAndSet(false, true)) {
      if (expired) {
        return;
      }
      throw new TetherException(ErrorCode.TASK_ALREADY_COMPLETED, "background task " + id + " (" + kind
          + ") was already completed; complete each task exactly once");
    }
    if (!expired) {
      owner.sendCompletion(this, failed, error);
    }
  }

  /** Completes the task unless it already is (handlers' futures); never throws. */
  void completeQuietly(boolean failed, String error) {
    if (completed.compareAndSet(false, true) && !expired) {
      owner.sendCompletion(this, failed, error);
    }
  }

  public void expirationHandler(Runnable handler) {
    this.expirationHandler = handler;
  }

  Runnable expirationHandler() {
    return expirationHandler;
  }

  void markExpired() {
    expired = true;
    completed.set(true);
  }

  /** ", completed" / ", expired" / "" for descriptions. */
  public String stateSuffix() {
    return expired ? ", expired" : completed.get() ? ", completed" : "";
  }
}
