package dev.tether.tests.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code tether} CLI in its own JVM, as a user would, and captures what it printed. */
public final class Cli {
  private Cli() {}

  /** What one run printed and how it exited. */
  public record Result(int exitCode, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  public static Result run(Path home, String... args) {
    return run(home, Map.of(), args);
  }

  public static Result run(Path home, Map<String, String> env, String... args) {
    List<String> full = new ArrayList<>();
    if (home != null) {
      full.add("--home");
      full.add(home.toString());
    }
    full.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.cli.Main", full.toArray(String[]::new)));
    pb.environment().putAll(env);
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    try {
      Process p = pb.start();
      var err = new java.io.ByteArrayOutputStream();
      Thread errReader = new Thread(() -> {
        try {
          p.getErrorStream().transferTo(err);
        } catch (IOException ignored) {
          // process ended
        }
      });
      errReader.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("tether " + full + " did not finish within 120 s");
      }
      errReader.join();
      return new Result(p.exitValue(), out, err.toString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
