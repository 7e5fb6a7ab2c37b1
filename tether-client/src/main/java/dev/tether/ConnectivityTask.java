package dev.tether;

import dev.tether.internal.TaskHandle;

/**
 * A connectivity task: data from the paired counterpart arrived for the app. Activate the connectivity session and
 * complete the task once nothing is pending any more (Apple's {@code WKWatchConnectivityRefreshBackgroundTask}).
 */
public final class ConnectivityTask implements BackgroundTask {
  private final TaskHandle handle;

  ConnectivityTask(TaskHandle handle) {
    this.handle = handle;
  }

  @Override
  public void setTaskCompleted() {
    handle.complete();
  }

  @Override
  public void setExpirationHandler(Runnable handler) {
    handle.expirationHandler(handler);
  }

  @Override
  public boolean isCompleted() {
    return handle.isCompleted();
  }

  @Override
  public String toString() {
    return "ConnectivityTask[" + handle.id() + handle.stateSuffix() + "]";
  }
}
