package dev.tether.examples.refresh;

import dev.tether.AppRefreshTask;
import dev.tether.Tether;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * An app that asks for an application refresh and exits; tetherd launches it in the background when the refresh is
 * due (and the budget allows), hands it an {@link AppRefreshTask} with the user info, and ends it once done.
 *
 * <pre>
 * tether app register dev.tether.examples.refresh --launch "java -cp CP dev.tether.examples.refresh.RefreshExample --out DIR"
 * java -cp CP dev.tether.examples.refresh.RefreshExample --out DIR --in 60
 * </pre>
 */
public final class RefreshExample {
  /** The app id unless {@code --app} says otherwise. */
  public static final String APP_ID = "dev.tether.examples.refresh";

  private RefreshExample() {}

  public static void main(String[] args) throws Exception {
    Path out = null;
    long inSeconds = 0;
    String appId = System.getenv().getOrDefault("TETHER_APP_ID", APP_ID);
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--out" -> out = Path.of(args[++i]);
        case "--in" -> inSeconds = Long.parseLong(args[++i]);
        case "--app" -> appId = args[++i];
        default -> {
          System.err.println("usage: RefreshExample --out DIR [--in SECONDS] [--app ID]");
          System.exit(2);
        }
      }
    }
    if (out == null) {
      System.err.println("usage: RefreshExample --out DIR [--in SECONDS] [--app ID]");
      System.exit(2);
    }
    Path folder = Files.createDirectories(out);
    try (Tether tether = Tether.connect(appId)) {
      if (tether.launchedInBackground()) {
        tether.onTask(AppRefreshTask.class, task -> {
          Path note = folder.resolve("refreshed-" + System.currentTimeMillis() + ".txt");
          return CompletableFuture.runAsync(() -> {
            try {
              Files.writeString(note, "refreshed with " + task.userInfo() + "\n");
            } catch (java.io.IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
            System.out.println("wrote " + note);
          });
        });
        tether.awaitTasks();
        return;
      }
      Instant when = Instant.now().plus(Duration.ofSeconds(inSeconds));
      tether.scheduleBackgroundRefresh(when, Map.of("requestedAt", System.currentTimeMillis()));
      System.out.println("refresh requested for " + when + "; exiting, tetherd will launch this app in the background");
    }
  }
}
