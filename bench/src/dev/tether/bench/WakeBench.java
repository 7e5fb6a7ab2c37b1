package dev.tether.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ConnectivityTask;
import dev.tether.Tether;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * Wake latency and idle cost of a real tetherd process:
 * <ol>
 *   <li>event to handler for an app that is running (connected, listening): a connectivity task is triggered and
 *       the time until the app's handler runs is measured in this JVM;</li>
 *   <li>event to handler for an app tetherd must launch (a small JVM app, {@link WakeBenchApp}), beside the bare
 *       start-up time of {@code java} running {@link Hello} with the same flags;</li>
 *   <li>the daemon's CPU time and resident memory over an idle period with apps registered.</li>
 * </ol>
 * Usage: {@code WakeBench HOME [runningIterations] [launchIterations] [idleSeconds]}.
 */
public final class WakeBench {
  private WakeBench() {}

  public static void main(String[] args) throws Exception {
    Path home = Path.of(args[0]);
    int runningN = args.length > 1 ? Integer.parseInt(args[1]) : 500;
    int launchN = args.length > 2 ? Integer.parseInt(args[2]) : 20;
    int idleSeconds = args.length > 3 ? Integer.parseInt(args[3]) : 60;
    String cp = System.getProperty("java.class.path");
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    List<String> appFlags = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto");

    String appCp = System.getProperty("bench.appcp", cp);
    // tetherd started exactly as the client library starts it (same JVM flags).
    Process daemon = new ProcessBuilder(dev.tether.internal.DaemonStarter.command(home)).redirectErrorStream(true)
        .redirectOutput(home.resolveSibling("tetherd-bench.out").toFile()).start();
    try {
      ObjectNode hello = Json.object();
      hello.put("kind", "cli");
      DaemonClient admin = null;
      for (int i = 0; i < 400 && admin == null; i++) {
        try {
          admin = DaemonClient.connect(home, "dev.tether.cli", hello, false);
        } catch (RuntimeException e) {
          Thread.sleep(25);
        }
      }
      if (admin == null) {
        throw new IllegalStateException("tetherd did not start; see " + home.resolveSibling("tetherd-bench.out"));
      }
      System.out.println("tetherd pid " + daemon.pid() + ", home " + home);

      // 0. Idle: a fresh daemon with apps registered and nothing due.
      for (int i = 0; i < 5; i++) {
        register(admin, "bench.idle" + i, "true");
      }
      Thread.sleep(5_000);
      long cpu0 = cpuTicks(daemon.pid());
      Thread.sleep(idleSeconds * 1000L);
      long cpu1 = cpuTicks(daemon.pid());
      System.out.printf("idle tetherd (5 apps registered, nothing due) over %d s: CPU %.2f s, RSS %.1f MiB%n", idleSeconds,
          (cpu1 - cpu0) / 100.0, rssKb(daemon.pid()) / 1024.0);

      // 1. Running app.
      register(admin, "bench.running", "true");
      SynchronousQueue<Long> handled = new SynchronousQueue<>();
      List<Long> running = new ArrayList<>();
      try (Tether app = Tether.connect("bench.running", TetherOptions.defaults().home(home).startDaemon(false))) {
        app.onTask(ConnectivityTask.class, task -> {
          long t = System.nanoTime();
          try {
            handled.put(t);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return CompletableFuture.completedFuture(null);
        });
        for (int i = 0; i < runningN + 100; i++) {
          long t0 = System.nanoTime();
          trigger(admin, "bench.running");
          Long t1 = handled.poll(10, TimeUnit.SECONDS);
          if (t1 == null) {
            throw new IllegalStateException("the running app's handler did not run");
          }
          if (i >= 100) {
            running.add(t1 - t0);
          }
          app.awaitTasks(Duration.ofSeconds(10));
        }
      }
      report("running app: event -> handler", running, 1_000);

      // 2. Launched app, and bare java beside it.
      List<Long> bare = new ArrayList<>();
      for (int i = 0; i < launchN + 2; i++) {
        List<String> cmd = new ArrayList<>(List.of(java));
        cmd.addAll(appFlags);
        cmd.addAll(List.of("-cp", appCp, Hello.class.getName()));
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        p.waitFor();
        if (i >= 2) {
          bare.add(System.nanoTime() - t0);
        }
      }
      report("bare java hello-world start-up (same flags)", bare, 1_000_000);
      Path archive = home.resolveSibling("wake-app.jsa");
      int[] wakes = {0};
      List<Long> plain = launches(admin, java, appFlags, appCp, null, launchN, wakes);
      report("launched JVM app: event -> handler", plain, 1_000_000);
      launches(admin, java, appFlags, appCp, "-XX:ArchiveClassesAtExit=" + archive, 0, wakes);
      List<Long> cds = launches(admin, java, appFlags, appCp, "-XX:SharedArchiveFile=" + archive, launchN, wakes);
      report("launched JVM app with an AppCDS archive: event -> handler", cds, 1_000_000);
    } finally {
      daemon.destroy();
      daemon.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private static List<Long> launches(DaemonClient admin, String java, List<String> appFlags, String appCp, String extraFlag, int n,
      int[] wakes) throws Exception {
      List<Long> launched = new ArrayList<>();
      try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
        StringBuilder launch = new StringBuilder("'" + java + "'");
        for (String f : appFlags) {
          launch.append(' ').append(f);
        }
        if (extraFlag != null) {
          launch.append(" '").append(extraFlag).append('\'');
        }
        launch.append(" -cp '").append(appCp).append("' ").append(WakeBenchApp.class.getName()).append(' ').append(server.getLocalPort());
        register(admin, "bench.launched", launch.toString());
        int warm = n == 0 ? 1 : 2;
        for (int i = 0; i < n + warm; i++) {
          Instant t0 = Instant.now();
          trigger(admin, "bench.launched");
          server.setSoTimeout(30_000);
          long handlerMicros;
          try (Socket s = server.accept();
               BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII))) {
            handlerMicros = Long.parseLong(in.readLine().trim());
          }
          long startMicros = t0.getEpochSecond() * 1_000_000L + t0.getNano() / 1000;
          if (System.getProperty("bench.verbose") != null) {
            System.out.println("event=" + startMicros);
          }
          if (i >= warm) {
            launched.add((handlerMicros - startMicros) * 1000);
          }
          wakes[0]++;
          waitForWakeEnd(admin, "bench.launched", wakes[0]);
        }
      }
      return launched;
  }

  private static void register(DaemonClient admin, String app, String launch) {
    ObjectNode b = Json.object();
    b.put("app", app);
    b.put("launch", launch);
    admin.call("app.register", b);
  }

  private static void trigger(DaemonClient admin, String app) {
    ObjectNode b = Json.object();
    b.put("app", app);
    b.put("kind", "connectivity");
    b.put("bypassBudget", false);
    admin.call("task.trigger", b);
  }

  private static void waitForWakeEnd(DaemonClient admin, String app, int count) throws InterruptedException {
    ObjectNode b = Json.object();
    b.put("app", app);
    for (int i = 0; i < 3000; i++) {
      var wakes = admin.call("timeline", b).path("wakes");
      if (wakes.size() >= count && !wakes.get(0).path("outcome").isNull()) {
        if (!"COMPLETED".equals(wakes.get(0).path("outcome").asText())) {
          throw new IllegalStateException("wake ended " + wakes.get(0));
        }
        return;
      }
      Thread.sleep(10);
    }
    throw new IllegalStateException("the launched app's wake did not end");
  }

  private static void report(String what, List<Long> nanos, long unit) {
    List<Long> s = new ArrayList<>(nanos);
    Collections.sort(s);
    double median = s.get(s.size() / 2) / (double) unit;
    double p90 = s.get((int) (s.size() * 0.9)) / (double) unit;
    String u = unit == 1_000 ? "µs" : "ms";
    System.out.printf("%s: median %.1f %s, p90 %.1f %s, n=%d%n", what, median, u, p90, u, s.size());
  }

  private static long cpuTicks(long pid) throws java.io.IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[11]) + Long.parseLong(f[12]);
  }

  private static long rssKb(long pid) throws java.io.IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }
}
