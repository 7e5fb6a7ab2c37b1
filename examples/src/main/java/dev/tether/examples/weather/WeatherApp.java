package dev.tether.examples.weather;

import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ConnectivityTask;
import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import dev.tether.UrlSessionTask;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * The weather app of {@code tether demo}, one program for both devices, using only Tether's public API.
 *
 * <ul>
 *   <li>{@code WeatherApp fetch URL}: in the foreground on the primary, start a background download of the forecast,
 *       then exit at once; tetherd carries on.
 *   <li>Launched by tetherd in the background with a <b>URL-session task</b>: re-open the session, take the
 *       downloaded forecast, send the temperature to the paired device as a complication update, complete the task.
 *   <li>Launched by tetherd with a <b>connectivity task</b> (the companion): activate, receive everything pending,
 *       complete the task.
 * </ul>
 *
 * <p>Every step is appended as a line to the file named by {@code --log FILE} (the demo shows them as they come).
 */
public final class WeatherApp {
  public static final String APP_ID = "com.example.weather";
  static final String SESSION = "forecast";

  private final Tether tether;
  private final PrintStream log;
  private final Path storage;

  private WeatherApp(Tether tether, PrintStream log, Path storage) {
    this.tether = tether;
    this.log = log;
    this.storage = storage;
  }

  public static void main(String[] args) throws Exception {
    Path logFile = null;
    Path storage = Path.of(System.getProperty("java.io.tmpdir"));
    String fetch = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--log" -> logFile = Path.of(args[++i]);
        case "--storage" -> storage = Path.of(args[++i]);
        case "fetch" -> fetch = args[++i];
        default -> throw new IllegalArgumentException("usage: WeatherApp [--log FILE] [--storage DIR] [fetch URL]");
      }
    }
    PrintStream log = logFile == null ? System.out : new PrintStream(Files.newOutputStream(logFile,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND), true, StandardCharsets.UTF_8);
    try (Tether tether = Tether.connect(APP_ID)) {
      WeatherApp app = new WeatherApp(tether, log, storage);
      if (fetch != null) {
        app.startBackgroundDownload(URI.create(fetch));
      } else if (tether.launchedInBackground()) {
        app.handleWake();
      } else {
        log.println("nothing to do: run with 'fetch URL', or let tetherd launch the app in the background");
      }
    }
  }

  /** Foreground: queue the download in tetherd and return; the app may exit right after. */
  void startBackgroundDownload(URI forecast) {
    UrlSession session = tether.urlSession(SessionConfiguration.background(SESSION).build(), new UrlSessionDelegate() {});
    DownloadTransfer download = session.download(forecast).description("hourly forecast").start();
    log.println("started background download " + download.id() + " of " + forecast + "; exiting");
  }

  /** Background: take whatever tasks tetherd hands over, complete each, and return when tetherd says so. */
  void handleWake() {
    tether.onTask(UrlSessionTask.class, task -> {
      log.println("woken with a URL-session task for session '" + task.sessionIdentifier() + "'");
      Forecasts forecasts = new Forecasts();
      return tether.urlSession(SessionConfiguration.background(task.sessionIdentifier()).build(), forecasts)
          .eventsDelivered()
          .thenCompose(delivered -> forecasts.sendTemperature());
    });
    tether.onTask(ConnectivityTask.class, task -> {
      log.println("woken with a connectivity task");
      ConnectivitySession cx = tether.connectivity(new FromPairedDevice());
      return cx.activate().thenCompose(state -> cx.drained())
          .thenRun(() -> log.println("nothing pending; completing the connectivity task"));
    });
    tether.awaitTasks();
    log.println("all tasks complete; exiting");
  }

  /** URL-session delegate: keeps the forecast and forwards the temperature to the paired device. */
  private final class Forecasts implements UrlSessionDelegate {
    private volatile Integer temperature;

    @Override
    public void downloadFinished(DownloadTransfer transfer, Path file) throws IOException {
      Path kept = storage.resolve("forecast.json");
      Files.move(file, kept, StandardCopyOption.REPLACE_EXISTING); // the file is gone after we return
      long size = Files.size(kept);
      log.println("download finished: " + size + " bytes, sha-256 " + sha256(kept).substring(0, 16) + "…");
      temperature = (int) (Math.abs(sha256(kept).hashCode()) % 15) + 10;
    }

    /**
     * After the session's events: send the temperature to the paired device. Asynchronous on purpose: delegate
     * callbacks run one at a time on the app's delivery thread, so blocking there on another delivery (such as the
     * activation) would wait forever.
     */
    java.util.concurrent.CompletableFuture<Void> sendTemperature() {
      if (temperature == null) {
        return java.util.concurrent.CompletableFuture.completedFuture(null);
      }
      ConnectivitySession cx = tether.connectivity(new FromPairedDevice());
      return cx.activate().thenAccept(state -> {
        cx.transferCurrentComplicationUserInfo(Map.of("temperatureC", temperature, "source", "forecast.json"));
        log.println("sent complication update {temperatureC=" + temperature + "} to the paired device");
      });
    }

    @Override
    public void transferCompleted(Transfer transfer, Optional<TransferError> error) {
      log.println("transfer " + transfer.id() + " completed" + error.map(e -> " with error " + e).orElse(" without error"));
    }
  }

  /** Connectivity delegate: what the paired device sent. */
  private final class FromPairedDevice implements ConnectivityDelegate {
    @Override
    public void userInfoReceived(ConnectivitySession session, Map<String, Object> userInfo) {
      log.println("received from the paired device: " + userInfo);
    }
  }

  static String sha256(Path file) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(Files.readAllBytes(file));
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
