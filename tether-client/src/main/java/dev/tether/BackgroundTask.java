package dev.tether;

/**
 * A background task: time tetherd gives the app to do one piece of work (Apple's {@code WKRefreshBackgroundTask}).
 * Apps never create tasks; they receive them through {@link Tether#setTaskDelegate} or {@link Tether#onTask}.
 *
 * <p>Complete each task exactly once with {@link #setTaskCompleted()} when its work is done; tetherd ends a background
 * launch once all its tasks are complete. Before the wake's allowance runs out, the task's expiration handler runs;
 * a task still not completed when the allowance is over is expired and the app ended and charged.
 *
 * <p>Tasks are safe to use from any thread, equal only to themselves, and print a readable description.
 */
public sealed interface BackgroundTask permits AppRefreshTask, UrlSessionTask, ConnectivityTask {
  /**
   * Tells tetherd the task's work is done. Call it exactly once; a second call throws a {@link TetherException} with
   * code {@link ErrorCode#TASK_ALREADY_COMPLETED} and changes nothing. Calling it after the task expired (once
   * {@link #isCompleted()} turned true without a call, or from work that ended just after the expiration handler
   * returned) does nothing: it throws nothing, sends nothing, and the task stays expired, however often it is called.
   */
  void setTaskCompleted();

  /**
   * Sets what runs shortly before the wake's allowance ends while the task is not completed: stop the work and
   * complete the task. Runs on the app's delivery thread; replaces an earlier handler.
   */
  void setExpirationHandler(Runnable handler);

  /** Whether the task was completed (by the app) or expired. */
  boolean isCompleted();
}
