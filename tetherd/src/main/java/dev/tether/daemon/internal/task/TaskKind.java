package dev.tether.daemon.internal.task;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;

/** Immutable, any thread: the kinds of background task tetherd hands to apps, with their wire names. */
public enum TaskKind {
  APP_REFRESH("appRefresh", true),
  URL_SESSION("urlSession", true),
  CONNECTIVITY("connectivity", false);

  private final String wire;
  private final boolean budgeted;

  TaskKind(String wire, boolean budgeted) {
    this.wire = wire;
    this.budgeted = budgeted;
  }

  /** The name used on the wire, in the store and in the CLI. */
  public String wire() {
    return wire;
  }

  /** Whether wakes for this kind count against the app's hourly wake budget. */
  public boolean budgeted() {
    return budgeted;
  }

  public static TaskKind fromWire(String name) {
    for (TaskKind k : values()) {
      if (k.wire.equals(name)) {
        return k;
      }
    }
    throw new TetherException(ErrorCode.INVALID_PARAMETER,
        "unknown task kind '" + name + "': use appRefresh, urlSession or connectivity");
  }
}
