package dev.tether.tests.tasks;

import dev.tether.AppRefreshTask;
import dev.tether.BackgroundTask;
import dev.tether.ConnectivityTask;
import dev.tether.Tether;
import dev.tether.UrlSessionTask;
import dev.tether.protocol.Protocol;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A small app that tetherd launches in the background in the task tests: {@code TaskApp MODE DIR}. It records what
 * happened as lines in {@code DIR/events.txt}. Modes: {@code complete} (completes every task), {@code never} (never
 * completes; its expiration handler records "expiring"), {@code crash} (halts while handling), {@code once} (never
 * completes in its first launch, completes in later ones).
 */
public final class TaskApp {
  private TaskApp() {}

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    Path dir = Path.of(args[1]);
    String appId = System.getenv(Protocol.ENV_APP_ID);
    record(dir, "launched " + System.getenv(Protocol.ENV_WAKE_ID));
    try (Tether tether = Tether.connect(appId)) {
      record(dir, "background " + tether.launchedInBackground());
      tether.setTaskDelegate(tasks -> {
        for (BackgroundTask task : tasks) {
          record(dir, "task " + describe(task));
          switch (mode) {
            case "complete" -> task.setTaskCompleted();
            case "never" -> task.setExpirationHandler(() -> record(dir, "expiring " + describe(task)));
            case "crash" -> Runtime.getRuntime().halt(3);
            case "once" -> {
              if (Files.exists(dir.resolve("first-launch-done"))) {
                task.setTaskCompleted();
              } else {
                touch(dir.resolve("first-launch-done"));
              }
            }
            default -> throw new IllegalArgumentException(mode);
          }
        }
      });
      tether.awaitTasks();
      record(dir, "exit");
    }
  }

  static String describe(BackgroundTask task) {
    if (task instanceof AppRefreshTask r) {
      return "appRefresh " + r.userInfo();
    } else if (task instanceof UrlSessionTask u) {
      return "urlSession " + u.sessionIdentifier();
    } else if (task instanceof ConnectivityTask) {
      return "connectivity";
    }
    return task.toString();
  }

  static void touch(Path p) {
    try {
      Files.createDirectories(p.getParent());
      Files.writeString(p, "");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static synchronized void record(Path dir, String line) {
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("events.txt"), line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
