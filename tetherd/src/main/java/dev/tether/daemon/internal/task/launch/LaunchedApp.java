package dev.tether.daemon.internal.task.launch;

import java.util.concurrent.CompletableFuture;

/**
 * Controlled from the task thread ({@code tether-tasks}); its exit future completes on a JDK process-reaper thread,
 * which hands the exit to the task thread: a running background launch, as the task service controls it.
 */
public interface LaunchedApp {
  /** The OS process id, or -1 when the app does not run as a process of its own (test kit). */
  long pid();

  /** Completes with the exit status once the app has ended. */
  CompletableFuture<Integer> onExit();

  /** Asks the app (and everything it started) to end: SIGTERM. */
  void terminate();

  /** Ends the app (and everything it started) now: SIGKILL. */
  void kill();

  /** The last lines the app printed since it was launched, for error messages; may be empty. */
  default String outputTail() {
    return "";
  }
}
