package dev.tether;

import java.util.Set;

/**
 * Receives background tasks as one set per wake (Apple's {@code handle(_:)}). Complete each task when its work is
 * done. Runs on the app's delivery thread: return promptly and do long work elsewhere.
 */
@FunctionalInterface
public interface TaskDelegate {
  void handle(Set<BackgroundTask> tasks);
}
