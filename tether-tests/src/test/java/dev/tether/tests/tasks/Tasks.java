package dev.tether.tests.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.JavaProcesses;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** Helpers for the background-task tests. */
final class Tasks {
  private Tasks() {}

  /** A {@code /bin/sh} command line running {@code mainClass} in a JVM on the test class path. */
  static String shellCommand(String mainClass, String... args) {
    return JavaProcesses.javaCommand(mainClass, args).stream().map(Tasks::quote).collect(Collectors.joining(" "));
  }

  static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  static List<String> events(Path dir) throws IOException {
    Path f = dir.resolve("events.txt");
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  static ObjectNode register(DaemonClient admin, String app, String launch, ObjectNode extra) {
    ObjectNode b = Json.object();
    b.put("app", app);
    b.put("launch", launch);
    if (extra != null) {
      b.setAll(extra);
    }
    return admin.call("app.register", b);
  }

  static ObjectNode timeline(DaemonClient admin, String app) {
    ObjectNode b = Json.object();
    b.put("app", app);
    return admin.call("timeline", b);
  }

  static JsonNode onlyWake(DaemonClient admin, String app) {
    JsonNode wakes = timeline(admin, app).path("wakes");
    if (wakes.size() != 1) {
      throw new AssertionError("expected one wake of " + app + ", got " + wakes);
    }
    return wakes.get(0);
  }

  static DaemonClient admin(Path home) {
    ObjectNode hello = Json.object();
    hello.put("kind", "cli");
    return DaemonClient.connect(home, "dev.tether.cli", hello, false);
  }
}
