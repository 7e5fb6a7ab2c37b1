package dev.tether.examples.download;

import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import dev.tether.UrlSessionTask;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/**
 * An app that schedules a background download and exits; tetherd finishes the download and launches the app in the
 * background with a URL-session task, which re-opens the session, receives the events, completes the task and exits.
 *
 * <pre>
 * tether app register dev.tether.examples.download --launch "java -cp CP dev.tether.examples.download.BackgroundDownloadExample --out DIR"
 * java -cp CP dev.tether.examples.download.BackgroundDownloadExample --out DIR https://example.com/forecast.json
 * tether timeline dev.tether.examples.download
 * </pre>
 */
public final class BackgroundDownloadExample {
  /** The app id unless {@code --app} says otherwise. */
  public static final String APP_ID = "dev.tether.examples.download";
  /** The background session's identifier. */
  public static final String SESSION = "forecast";

  private BackgroundDownloadExample() {}

  public static void main(String[] args) throws Exception {
    Path out = null;
    URI url = null;
    String appId = System.getenv().getOrDefault("TETHER_APP_ID", APP_ID);
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--out" -> out = Path.of(args[++i]);
        case "--app" -> appId = args[++i];
        default -> url = URI.create(args[i]);
      }
    }
    if (out == null) {
      System.err.println("usage: BackgroundDownloadExample --out DIR [--app ID] [URL]");
      System.exit(2);
    }
    Files.createDirectories(out);
    try (Tether tether = Tether.connect(appId)) {
      SaveToFolder delegate = new SaveToFolder(out);
      if (tether.launchedInBackground()) {
        // Woken by tetherd: re-open the session the task names; its events come to the delegate, then we are done.
        tether.onTask(UrlSessionTask.class, task -> {
          System.out.println("woken for session " + task.sessionIdentifier());
          return tether.urlSession(SessionConfiguration.background(task.sessionIdentifier()).build(), delegate).eventsDelivered();
        });
        tether.awaitTasks();
        System.out.println("all tasks complete; exiting");
        return;
      }
      if (url == null) {
        System.err.println("give the URL to download");
        System.exit(2);
      }
      UrlSession session = tether.urlSession(SessionConfiguration.background(SESSION).build(), delegate);
      DownloadTransfer t = session.download(url).description("example download").start();
      System.out.println("download " + t.id() + " of " + url + " scheduled; exiting, tetherd will wake this app when it is done");
    }
  }

  /** Moves each finished download into a folder, named after the URL's last path segment. */
  static final class SaveToFolder implements UrlSessionDelegate {
    private final Path folder;

    SaveToFolder(Path folder) {
      this.folder = folder;
    }

    @Override
    public void downloadFinished(DownloadTransfer transfer, Path file) throws Exception {
      String name = Path.of(transfer.url().getPath()).getFileName().toString();
      Path target = folder.resolve(name.isEmpty() ? "download-" + transfer.id() : name);
      Files.move(file, target, StandardCopyOption.REPLACE_EXISTING);
      System.out.println("saved " + target);
    }

    @Override
    public void transferCompleted(Transfer transfer, Optional<TransferError> error) {
      System.out.println("transfer " + transfer.id() + " completed" + error.map(e -> " with " + e.code() + ": " + e.message()).orElse(""));
    }
  }
}
