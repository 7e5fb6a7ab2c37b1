package dev.tether;

import dev.tether.internal.TaskHandle;

/**
 * A URL-session task: a background URL session of the app has news (all its transfers finished, or an
 * authentication challenge waits for an answer). Re-open the session with the same identifier and a delegate; its
 * events are delivered to it; complete the task once they all were (Apple's {@code WKURLSessionRefreshBackgroundTask}).
 */
public final class UrlSessionTask implements BackgroundTask {
  private final TaskHandle handle;

  UrlSessionTask(TaskHandle handle) {
    this.handle = handle;
  }

  /** The identifier of the background session that needs the app. */
  public String sessionIdentifier() {
    return handle.sessionIdentifier();
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
    return "UrlSessionTask[" + handle.id() + ", session=" + handle.sessionIdentifier() + handle.stateSuffix() + "]";
  }
}
