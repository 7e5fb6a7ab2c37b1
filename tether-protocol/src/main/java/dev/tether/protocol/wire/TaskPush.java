package dev.tether.protocol.wire;

/** Pushes from tetherd's task service to an app's connection. Immutable; any thread. */
public enum TaskPush implements Push {
  /** A set of background tasks handed to the app in a wake. */
  TASKS("tasks"),
  /** The wake's allowance is about to end: run the expiration handlers of these tasks. */
  TASKS_EXPIRING("tasks.expiring"),
  /** The wake's allowance ended with these tasks not completed. */
  TASKS_EXPIRED("tasks.expired"),
  /** The process claimed a wake or app tetherd does not know. */
  TASKS_REFUSED("tasks.refused"),
  /** The app is asked to exit (its tasks are complete, or it was stopped). */
  APP_EXIT("app.exit");

  private final String wire;

  TaskPush(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
