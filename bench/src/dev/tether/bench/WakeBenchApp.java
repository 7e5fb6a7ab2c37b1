package dev.tether.bench;

import dev.tether.ConnectivityTask;
import dev.tether.Tether;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * The small app {@code wake.sh} has tetherd launch: reports the wall-clock microsecond its task handler started to
 * the benchmark on {@code 127.0.0.1:PORT}, completes the task and exits when asked.
 */
public final class WakeBenchApp {
  private WakeBenchApp() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    long mainAt = micros(Instant.now());
    try (Tether tether = Tether.connect(System.getenv("TETHER_APP_ID"))) {
      long connectedAt = micros(Instant.now());
      tether.onTask(ConnectivityTask.class, task -> {
        long micros = micros(Instant.now());
        long jvmStart = ProcessHandle.current().info().startInstant().map(WakeBenchApp::micros).orElse(0L);
        System.out.println("timing jvmStart=" + jvmStart + " main=" + mainAt + " connected=" + connectedAt + " handler=" + micros);
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port); OutputStream out = s.getOutputStream()) {
          out.write((micros + "\n").getBytes(StandardCharsets.US_ASCII));
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
        return CompletableFuture.completedFuture(null);
      });
      tether.awaitTasks();
    }
  }

  static long micros(Instant t) {
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
  }
}
