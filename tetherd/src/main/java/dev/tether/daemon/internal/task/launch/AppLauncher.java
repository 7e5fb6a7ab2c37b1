package dev.tether.daemon.internal.task.launch;

import java.io.IOException;

/**
 * Called on the task thread ({@code tether-tasks}) by the wake runner, and returns once started: starts an app for a
 * background wake. The daemon uses {@link ProcessLauncher} (a real process per launch); the test kit passes its own
 * through {@code DaemonOptions.extra(AppLauncher.OPTION, ...)} to run apps inside the test JVM.
 */
public interface AppLauncher {
  /** The {@code DaemonOptions} extra key under which a launcher replaces the default one. */
  String OPTION = "launcher";

  /** Starts the app; throws when it cannot be started at all (the wake is then recorded as crashed). */
  LaunchedApp launch(LaunchRequest request) throws IOException;
}
