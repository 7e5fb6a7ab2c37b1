package dev.tether.protocol.wire;

/** Operations on apps, background tasks and wakes (tetherd's task service). Immutable; any thread. */
public enum TaskOp implements Operation {
  /** Registers an app (or updates it) with its launch command and budget settings. */
  APP_REGISTER("app.register"),
  /** Changes a registered app's budget settings. */
  APP_BUDGET("app.budget"),
  /** Forgets a registered app. */
  APP_UNREGISTER("app.unregister"),
  /** Lists the registered apps with their budgets. */
  APP_LIST("app.list"),
  /** Asks an app to exit, or force-quits it. */
  APP_STOP("app.stop"),
  /** An app's connection declares itself in the foreground or the background. */
  APP_FOREGROUND("app.foreground"),
  /** The wakes (newest first) and the tasks waiting, with why they wait. */
  TIMELINE("timeline"),
  /** An app's connection sets a task handler: background tasks may be pushed to it. */
  TASK_LISTEN("task.listen"),
  /** The app received a push of tasks (or expiring tasks). */
  TASK_DELIVERED("task.delivered"),
  /** The app completed a background task. */
  TASK_COMPLETE("task.complete"),
  /** The app asks for an application refresh. */
  TASK_SCHEDULE_REFRESH("task.scheduleRefresh"),
  /** Queues a task as if a capability asked for it (the CLI and the test kit). */
  TASK_TRIGGER("task.trigger"),
  /** Runs a wake's expiration now (the test kit). */
  TASK_EXPIRE("task.expire"),
  /** Drops a task not yet handed to the app (the test kit). */
  TASK_WITHDRAW("task.withdraw"),
  /** Holds or releases budgeted wakes (the test kit's conditions). */
  TASK_HOLD("task.hold"),
  /** Answers once the task service has nothing in flight (the test kit). */
  TASK_SETTLE("task.settle");

  private final String wire;

  TaskOp(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
