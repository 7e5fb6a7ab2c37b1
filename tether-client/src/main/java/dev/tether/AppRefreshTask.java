package dev.tether;

import dev.tether.internal.TaskHandle;
import java.util.Map;

/**
 * An application refresh: the wake the app asked for with {@link Tether#scheduleBackgroundRefresh}, carrying the user
 * info it was scheduled with (Apple's {@code WKApplicationRefreshBackgroundTask}).
 */
public final class AppRefreshTask implements BackgroundTask {
  private final TaskHandle handle;

  AppRefreshTask(TaskHandle handle) {
    this.handle = handle;
  }

  /** The user info given to {@link Tether#scheduleBackgroundRefresh}; empty when none was given. Unmodifiable. */
  public Map<String, Object> userInfo() {
    return handle.userInfo();
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
    return "AppRefreshTask[" + handle.id() + ", userInfo=" + handle.userInfo() + handle.stateSuffix() + "]";
  }
}
