package dev.tether.tests.apps;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ChallengeResponse;
import dev.tether.DownloadTransfer;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import dev.tether.protocol.Json;
import dev.tether.tests.support.GeneratedContent;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A small app for end-to-end tests, run as its own process. Prints one JSON line per thing it did or got.
 *
 * <pre>
 * TransferApp HOME APP_ID SESSION start URL      start a download, print its id, then wait to be killed
 * TransferApp HOME APP_ID SESSION attach [MS]    open the session, print every delegate call, exit once events are delivered;
 *                                               with MS, each delegate call works that long after printing its line
 * </pre>
 */
public final class TransferApp {
  private TransferApp() {}

  static synchronized void print(ObjectNode o) {
    System.out.println(Json.write(o));
    System.out.flush();
  }

  static ObjectNode line(String event, Transfer t) {
    ObjectNode o = Json.object();
    o.put("event", event);
    if (t != null) {
      o.put("id", t.id());
      t.description().ifPresent(d -> o.put("description", d));
    }
    return o;
  }

  public static void main(String[] args) throws Exception {
    Path home = Path.of(args[0]);
    String appId = args[1];
    String session = args[2];
    String mode = args[3];
    Tether tether = Tether.connect(appId, TetherOptions.defaults().home(home).startDaemon(false));
    SessionConfiguration config = SessionConfiguration.background(session).build();
    long work = mode.equals("attach") && args.length > 4 ? Long.parseLong(args[4]) : 0;
    UrlSessionDelegate delegate = new UrlSessionDelegate() {
      @Override
      public void downloadFinished(DownloadTransfer t, Path file) throws Exception {
        ObjectNode o = line("downloadFinished", t);
        o.put("size", Files.size(file));
        o.put("sha256", GeneratedContent.sha256(file));
        print(o);
        Thread.sleep(work); // the app's own work with the file
      }

      @Override
      public ChallengeResponse challenge(Transfer t, dev.tether.AuthenticationChallenge c) {
        print(line("challenge", t));
        return ChallengeResponse.useCredential("user", "secret");
      }

      @Override
      public void transferCompleted(Transfer t, Optional<TransferError> error) {
        ObjectNode o = line("completed", t);
        error.ifPresent(e -> o.put("error", e.code().name()));
        print(o);
        try {
          Thread.sleep(work);
        } catch (InterruptedException x) {
          Thread.currentThread().interrupt();
        }
      }

      @Override
      public void eventsFinished(UrlSession s) {
        print(line("eventsFinished", null));
      }
    };
    UrlSession s = tether.urlSession(config, delegate);
    if (mode.equals("start")) {
      DownloadTransfer t = s.download(URI.create(args[4])).description("big file").start();
      print(line("started", t));
      new CountDownLatch(1).await(); // until killed
    } else {
      s.eventsDelivered().get(120, TimeUnit.SECONDS);
      print(line("delivered", null));
      tether.close();
      System.exit(0);
    }
  }
}
