package dev.tether.daemon.internal;

import java.util.function.Consumer;

/**
 * How capabilities that produce work for an app (URL sessions, connectivity) reach the background-task machinery
 * that wakes apps. The task service provides the one implementation ({@link DaemonContext#provideBackgroundWork});
 * producers call it from any thread.
 */
public interface BackgroundWork {
  /**
   * A URL session of {@code appId} has events the app has not received (all its transfers finished, or an
   * authentication challenge waits for an answer), the session sends launch events, and no connection of the app
   * has the session open. The task service delivers (or, if the app is not running, launches it with) a URL-session
   * task carrying {@code sessionIdentifier}, within the app's budget.
   */
  void urlSessionNeedsApp(String appId, String sessionIdentifier, String reason);

  /** Data from the paired counterpart arrived for {@code appId}: deliver or launch with a connectivity task. */
  void connectivityNeedsApp(String appId, String reason);

  /**
   * A process of {@code appId} opened the URL session {@code sessionIdentifier} and receives its events directly: a
   * URL-session task for it that was not handed to the app yet is no longer needed and is withdrawn.
   */
  void urlSessionOpened(String appId, String sessionIdentifier);

  /** The app activated its connectivity session and received everything pending: a waiting connectivity task is withdrawn. */
  void connectivityDrained(String appId);

  /**
   * Why tetherd would not launch {@code appId} in the background now (it is not registered, or its user force-quit
   * it), in words for the person who can change that; empty when it would. For work that cannot wait, such as a live
   * message whose sender waits for the answer.
   */
  default java.util.concurrent.CompletableFuture<java.util.Optional<String>> launchRefusal(String appId) {
    return java.util.concurrent.CompletableFuture.completedFuture(java.util.Optional.empty());
  }

  /** Whether a process of {@code appId} is connected to the daemon right now. */
  boolean isRunning(String appId);

  /** Registers a listener told the app id when the user force-quits an app ({@code tether app stop --force}). */
  void onForceQuit(Consumer<String> listener);
}
