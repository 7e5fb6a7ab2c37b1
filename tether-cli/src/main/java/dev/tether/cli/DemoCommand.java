package dev.tether.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.examples.weather.WeatherApp;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.DaemonStarter;
import dev.tether.protocol.Json;
import dev.tether.protocol.TetherPaths;
import dev.tether.protocol.wire.ConnectivityOp;
import dev.tether.protocol.wire.TaskOp;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tether demo}: the whole system on one machine, in a temporary home. Two daemons paired over loopback
 * (primary and companion), a small HTTP server, and the weather example app on both sides: the primary app starts a
 * background download and exits; tetherd launches it with a URL-session task when the download is done; it sends a
 * complication update; the companion's tetherd launches its app with a connectivity task. Then both timelines, and
 * everything it started is stopped and removed.
 */
@Command(name = "demo", description = {
    "Show Tether working end to end on this machine, in a temporary folder.",
    "Two paired daemons, a background download that outlives its app, wakes with URL-session and connectivity tasks,",
    "and both timelines. Cleans up after itself."})
final class DemoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--keep", description = "Keep the temporary folder (homes, logs) for a look afterwards.")
  boolean keep;

  @Option(names = "--work-dir", paramLabel = "DIR", description = "Where to make the temporary folder (default: the system's temporary folder).")
  Path workDir;

  @Option(names = "--timeout", paramLabel = "S", description = "Seconds to allow for the whole demo (default 60).", defaultValue = "60")
  long timeoutSeconds;

  private PrintWriter out;
  private long started;
  private long deadline;
  private String step = "setting up";

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    started = System.nanoTime();
    deadline = started + Duration.ofSeconds(timeoutSeconds).toNanos();
    if (workDir != null && !Files.isDirectory(workDir)) {
      throw new TetherException(ErrorCode.FILE_NOT_FOUND, "--work-dir " + workDir + " is not a folder; create it, or leave"
          + " --work-dir out to use the system's temporary folder");
    }
    Path dir = workDir == null ? Files.createTempDirectory("tether-demo-") : Files.createTempDirectory(workDir, "tether-demo-");
    List<Process> processes = new ArrayList<>();
    HttpServer http = null;
    try {
      Path primary = dir.resolve("primary");
      Path companion = dir.resolve("companion");
      Path primaryLog = dir.resolve("primary-app.log");
      Path companionLog = dir.resolve("companion-app.log");

      step("starting an HTTP server on loopback");
      byte[] forecast = forecast();
      http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      http.createContext("/forecast.json", ex -> {
        try {
          Thread.sleep(1500); // a slow network: the download is still going when the app has exited
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.getResponseHeaders().add("ETag", "\"demo-1\"");
        ex.sendResponseHeaders(200, forecast.length);
        try (OutputStream body = ex.getResponseBody()) {
          body.write(forecast);
        }
      });
      http.start();
      String url = "http://127.0.0.1:" + http.getAddress().getPort() + "/forecast.json";
      say("HTTP server serves " + forecast.length / 1024 + " KiB at " + url);

      step("starting two tetherd processes");
      processes.add(startDaemon(primary));
      processes.add(startDaemon(companion));
      try (DaemonClient p = connect(primary); DaemonClient c = connect(companion)) {
        say("tetherd (primary)   pid " + p.welcome().path("pid").asLong() + ", home " + primary);
        say("tetherd (companion) pid " + c.welcome().path("pid").asLong() + ", home " + companion);

        step("pairing the two daemons over loopback (one-time code, pinned mutual TLS)");
        ObjectNode listen = Json.object();
        listen.put("role", "primary");
        listen.put("host", "127.0.0.1");
        ObjectNode offer = p.call(ConnectivityOp.PAIR_LISTEN, listen);
        ObjectNode connect = Json.object();
        connect.put("address", offer.path("address").asText());
        connect.put("code", offer.path("code").asText());
        c.call(ConnectivityOp.PAIR_CONNECT, connect);
        ObjectNode wait = Json.object();
        wait.put("code", offer.path("code").asText());
        p.call(ConnectivityOp.PAIR_WAIT, wait);
        say("paired: primary listened at " + offer.path("address").asText() + ", companion connected with code "
            + offer.path("code").asText());

        step("registering the weather app on both devices");
        register(p, launchCommand(primaryLog, dir.resolve("primary-files")));
        register(c, launchCommand(companionLog, dir.resolve("companion-files")));
        Files.createDirectories(dir.resolve("primary-files"));
        Files.createDirectories(dir.resolve("companion-files"));
        say("registered " + WeatherApp.APP_ID + " with tetherd on both devices (launch command: java ... WeatherApp)");

        step("running the primary app in the foreground");
        List<String> fetch = new ArrayList<>(appCommand(primaryLog, dir.resolve("primary-files")));
        fetch.add("fetch");
        fetch.add(url);
        ProcessBuilder pb = new ProcessBuilder(fetch);
        pb.environment().put("TETHER_HOME", primary.toString());
        pb.environment().remove("TETHER_LAUNCHED_IN_BACKGROUND");
        pb.redirectErrorStream(true).redirectOutput(dir.resolve("primary-app.out").toFile());
        Process app = pb.start();
        say("primary app started (pid " + app.pid() + ")");
        if (!app.waitFor(remainingMillis(), java.util.concurrent.TimeUnit.MILLISECONDS) || app.exitValue() != 0) {
          throw new IllegalStateException("the app did not exit cleanly; see " + dir.resolve("primary-app.out"));
        }

        LogTail primaryApp = new LogTail(primaryLog, "primary app");
        LogTail companionApp = new LogTail(companionLog, "companion app");
        TimelineWatch primaryWakes = new TimelineWatch(p, "primary");
        TimelineWatch companionWakes = new TimelineWatch(c, "companion");

        step("waiting for the download to finish and tetherd to wake the primary app with a URL-session task");
        awaitWhile(() -> primaryWakes.completed("urlSession"), primaryApp, companionApp, primaryWakes, companionWakes);

        step("waiting for the companion's tetherd to wake its app with a connectivity task");
        awaitWhile(() -> companionWakes.completed("connectivity"), primaryApp, companionApp, primaryWakes, companionWakes);
        primaryApp.poll();
        companionApp.poll();
        say("both tasks completed");

        step("printing the timelines");
        out.println();
        out.println("== timeline of the primary ==");
        out.flush();
        Main.commandLine().execute("--home", primary.toString(), "timeline", WeatherApp.APP_ID);
        out.println("== timeline of the companion ==");
        out.flush();
        Main.commandLine().execute("--home", companion.toString(), "timeline", WeatherApp.APP_ID);
        out.println();
      }

      step("stopping the daemons and the HTTP server");
      stopAll(dir, processes, http);
      http = null;
      processes.clear();
      say("demo finished in " + elapsed() + "; everything it started is stopped" + (keep ? ", files kept in " + dir : " and removed"));
      return 0;
    } catch (Exception e) {
      out.flush();
      String why = e instanceof TetherException te ? te.getMessage() + " [" + te.code() + "]" : String.valueOf(e.getMessage());
      spec.commandLine().getErr().println("demo failed while " + step + ": " + why);
      spec.commandLine().getErr().println("(logs: " + dir + ", kept for a look)");
      keep = true;
      return 1;
    } finally {
      stopAll(dir, processes, http);
      if (!keep) {
        deleteTree(dir);
      }
    }
  }

  private void step(String what) {
    step = what;
  }

  private void say(String line) {
    out.printf("[%5s] %s%n", elapsed(), line);
    out.flush();
  }

  private String elapsed() {
    return String.format("%.1fs", (System.nanoTime() - started) / 1e9);
  }

  private long remainingMillis() {
    return Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
  }

  private void awaitWhile(BooleanSupplier done, Pollable... sources) throws InterruptedException {
    while (true) {
      for (Pollable s : sources) {
        s.poll();
      }
      if (done.getAsBoolean()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new TetherException(ErrorCode.TIMED_OUT, "did not happen within the demo's " + timeoutSeconds + " s");
      }
      Thread.sleep(50);
    }
  }

  private Process startDaemon(Path home) throws IOException {
    Files.createDirectories(TetherPaths.logDir(home));
    ProcessBuilder pb = new ProcessBuilder(DaemonStarter.command(home));
    pb.redirectErrorStream(true).redirectOutput(TetherPaths.logDir(home).resolve("tetherd.out").toFile());
    return pb.start();
  }

  private DaemonClient connect(Path home) throws InterruptedException {
    TetherException last = null;
    while (System.nanoTime() < deadline) {
      try {
        return DaemonClient.connect(home, TetherCommand.CLI_APP_ID, cliHello(), false);
      } catch (TetherException e) {
        last = e;
        Thread.sleep(25);
      }
    }
    throw last != null ? last : new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "tetherd did not start");
  }

  private static ObjectNode cliHello() {
    ObjectNode hello = Json.object();
    hello.put("kind", "cli");
    return hello;
  }

  private static void register(DaemonClient client, String launch) {
    ObjectNode b = Json.object();
    b.put("app", WeatherApp.APP_ID);
    b.put("launch", launch);
    client.call(TaskOp.APP_REGISTER, b);
  }

  private static List<String> appCommand(Path log, Path storage) {
    return List.of(DaemonStarterAccess.java(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
        "-cp", System.getProperty("java.class.path"), WeatherApp.class.getName(),
        "--log", log.toString(), "--storage", storage.toString());
  }

  private static String launchCommand(Path log, Path storage) {
    StringBuilder sb = new StringBuilder("exec");
    for (String w : appCommand(log, storage)) {
      sb.append(' ').append('\'').append(w.replace("'", "'\\''")).append('\'');
    }
    return sb.toString();
  }

  private static byte[] forecast() {
    StringBuilder sb = new StringBuilder("{\"hours\":[");
    for (int h = 0; h < 2000; h++) {
      sb.append(h == 0 ? "" : ",").append("{\"hour\":").append(h).append(",\"temperatureC\":").append(10 + (h * 7) % 15)
          .append(",\"wind\":").append((h * 3) % 40).append('}');
    }
    return sb.append("]}").toString().getBytes(StandardCharsets.UTF_8);
  }

  private void stopAll(Path dir, List<Process> processes, HttpServer http) {
    for (Process p : processes) {
      p.destroy(); // SIGTERM: tetherd closes cleanly
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (http != null) {
      http.stop(0);
    }
    // apps tetherd launched end with their wakes; make sure none outlives the demo
    ProcessHandle.current().descendants().forEach(ProcessHandle::destroy);
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort: it is a temporary folder
    }
  }

  private interface Pollable {
    void poll();
  }

  /** Shows new lines of an app's log as they are written. */
  private final class LogTail implements Pollable {
    private final Path file;
    private final String who;
    private int linesShown;

    LogTail(Path file, String who) {
      this.file = file;
      this.who = who;
    }

    @Override
    public void poll() {
      if (!Files.exists(file)) {
        return;
      }
      try {
        List<String> lines = Files.readAllLines(file);
        for (int i = linesShown; i < lines.size(); i++) {
          say("  " + who + ": " + lines.get(i));
        }
        linesShown = lines.size();
      } catch (IOException ignored) {
        // read again on the next poll
      }
    }
  }

  /** Shows wakes of the weather app as the daemon records them. */
  private final class TimelineWatch implements Pollable {
    private final DaemonClient daemon;
    private final String device;
    private final Set<String> started = new HashSet<>();
    private final Set<String> ended = new HashSet<>();
    private final Set<String> completedKinds = new HashSet<>();

    TimelineWatch(DaemonClient daemon, String device) {
      this.daemon = daemon;
      this.device = device;
    }

    boolean completed(String kind) {
      return completedKinds.contains(kind);
    }

    @Override
    public void poll() {
      ObjectNode b = Json.object();
      b.put("app", WeatherApp.APP_ID);
      JsonNode wakes = daemon.call(dev.tether.protocol.wire.TaskOp.TIMELINE, b).path("wakes");
      for (JsonNode w : wakes) {
        String id = w.path("id").asText();
        String kinds = kindsOf(w);
        if (started.add(id)) {
          say("tetherd (" + device + ") launched " + WeatherApp.APP_ID + " in the background with " + kinds
              + (w.path("pid").asLong(0) > 0 ? " (pid " + w.path("pid").asLong() + ")" : ""));
        }
        String outcome = w.path("outcome").isTextual() ? w.path("outcome").asText().toLowerCase(java.util.Locale.ROOT) : "";
        if (!outcome.isEmpty() && ended.add(id)) {
          say("tetherd (" + device + ") wake " + outcome + ": " + kinds);
          if (outcome.equals("completed")) {
            for (JsonNode t : w.path("tasks")) {
              completedKinds.add(t.path("kind").asText());
            }
          }
        }
      }
    }

    private String kindsOf(JsonNode wake) {
      List<String> kinds = new ArrayList<>();
      for (JsonNode t : wake.path("tasks")) {
        String k = t.path("kind").asText();
        kinds.add(switch (k) {
          case "urlSession" -> "a URL-session task (session '" + t.path("sessionIdentifier").asText() + "')";
          case "connectivity" -> "a connectivity task";
          case "appRefresh" -> "an application-refresh task";
          default -> k;
        });
      }
      return kinds.isEmpty() ? "no tasks" : String.join(" and ", kinds);
    }
  }

  /** The java binary of this JVM. */
  private static final class DaemonStarterAccess {
    static String java() {
      return ProcessHandle.current().info().command().filter(c -> c.endsWith("java"))
          .orElse(System.getProperty("java.home") + "/bin/java");
    }
  }
}
