package dev.tether.examples.connectivity;

import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ConnectivityTask;
import dev.tether.ReceivedFile;
import dev.tether.Tether;
import dev.tether.UserInfoTransfer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The two halves of one app on paired devices (Apple: {@code WCSession}). On the sending device,
 * {@code ConnectivityExample send KEY=VALUE...} queues one user info and exits: tetherd stores it and carries it to
 * the paired device. There tetherd launches the same app in the background with a {@link ConnectivityTask}; the app
 * activates its session, receives everything pending (one line each in {@code --out FILE}), and completes the task
 * once nothing is pending.
 *
 * <pre>
 * # on the receiving device
 * tether app register dev.tether.examples.connectivity --launch "java -cp CP dev.tether.examples.connectivity.ConnectivityExample --out FILE"
 * # on the sending device
 * java -cp CP dev.tether.examples.connectivity.ConnectivityExample send city=Lyon temperatureC=21
 * </pre>
 */
public final class ConnectivityExample {
  /** The app id unless {@code TETHER_APP_ID} says otherwise. */
  public static final String APP_ID = "dev.tether.examples.connectivity";

  private ConnectivityExample() {}

  public static void main(String[] args) throws Exception {
    String appId = System.getenv().getOrDefault("TETHER_APP_ID", APP_ID);
    if (args.length > 0 && args[0].equals("send")) {
      Map<String, Object> userInfo = new TreeMap<>();
      for (int i = 1; i < args.length; i++) {
        String[] kv = args[i].split("=", 2);
        userInfo.put(kv[0], kv.length == 2 ? kv[1] : "");
      }
      try (Tether tether = Tether.connect(appId)) {
        ConnectivitySession session = tether.connectivity(new ConnectivityDelegate() {});
        session.activate().get(30, TimeUnit.SECONDS);
        UserInfoTransfer t = session.transferUserInfo(userInfo);
        System.out.println("queued user info " + t.id() + " " + userInfo + "; tetherd delivers it to the paired device");
      }
      return;
    }
    if (args.length != 2 || !args[0].equals("--out")) {
      System.err.println("usage: ConnectivityExample send KEY=VALUE... | ConnectivityExample --out FILE");
      System.exit(2);
    }
    Path out = Path.of(args[1]);
    try (PrintStream log = new PrintStream(Files.newOutputStream(out, StandardOpenOption.CREATE, StandardOpenOption.APPEND),
        true, StandardCharsets.UTF_8); Tether tether = Tether.connect(appId)) {
      ConnectivityDelegate delegate = new ConnectivityDelegate() {
        @Override
        public void userInfoReceived(ConnectivitySession session, Map<String, Object> userInfo) {
          log.println("userInfo " + new TreeMap<>(userInfo));
        }

        @Override
        public void applicationContextReceived(ConnectivitySession session, Map<String, Object> context) {
          log.println("applicationContext " + new TreeMap<>(context));
        }

        @Override
        public void fileReceived(ConnectivitySession session, ReceivedFile file) {
          log.println("file " + file.path().getFileName() + " " + file.size() + " bytes " + new TreeMap<>(file.metadata())); // removed after return unless moved
        }
      };
      tether.onTask(ConnectivityTask.class, task -> {
        ConnectivitySession session = tether.connectivity(delegate);
        return session.activate().thenCompose(state -> session.drained())
            .thenRun(() -> log.println("drained; completing the connectivity task"));
      });
      if (tether.launchedInBackground()) {
        tether.awaitTasks();
      } else {
        ConnectivitySession session = tether.connectivity(delegate);
        session.activate().thenCompose(state -> session.drained()).get(30, TimeUnit.SECONDS);
        log.println("drained");
      }
    } catch (IOException e) {
      System.err.println("cannot write " + out + ": " + e.getMessage());
      System.exit(1);
    }
  }
}
