package dev.tether.daemon.internal.task.launch;

import java.nio.file.Path;
import java.util.Map;

/**
 * Immutable, any thread: one background launch, that is the app, the wake it is for, its registered command, the
 * environment to add (launched in background, app id, wake id, home) and the file its output goes to.
 */
public record LaunchRequest(String appId, String wakeId, String command, Map<String, String> environment, Path logFile) {
  public LaunchRequest {
    environment = Map.copyOf(environment);
  }
}
