package dev.tether.internal;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.protocol.TetherPaths;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts tetherd as a detached process, as Gradle's client starts its daemon: with {@code $TETHER_DAEMON_COMMAND}
 * when set (a command line; {@code --home DIR} is appended), else with this JVM and class path when the daemon's
 * classes are on it, its heap capped at {@code $TETHER_DAEMON_HEAP} (default {@value #DEFAULT_HEAP}). Runs on the
 * caller's thread.
 */
public final class DaemonStarter {
  public static final String ENV_DAEMON_COMMAND = "TETHER_DAEMON_COMMAND";
  /** The most heap tetherd may use, in the JVM's {@code -Xmx} form ({@code 256m}, {@code 1g}). */
  public static final String ENV_DAEMON_HEAP = "TETHER_DAEMON_HEAP";
  /**
   * The default heap cap. A daemon at work stays near 140 MiB resident, but a burst of user info allocates fast: under
   * a 256 MiB cap the young generation is small and sustained user info ran 12% slower (19,560-20,325/s against
   * 22,173-23,810/s uncapped); at 512 MiB it ran 22,459/s ({@code ONLY=userinfo bench/connectivity.sh}).
   */
  public static final String DEFAULT_HEAP = "512m";
  private static final java.util.regex.Pattern HEAP = java.util.regex.Pattern.compile("[1-9][0-9]{0,6}[mMgG]");
  static final String DAEMON_MAIN = "dev.tether.daemon.Tetherd";

  private DaemonStarter() {}

  /** The command that runs tetherd in the foreground for {@code home}. */
  public static List<String> command(Path home) {
    List<String> cmd = new ArrayList<>();
    String custom = System.getenv(ENV_DAEMON_COMMAND);
    if (custom != null && !custom.isBlank()) {
      cmd.addAll(List.of(custom.trim().split("\\s+")));
    } else {
      try {
        Class.forName(DAEMON_MAIN, false, DaemonStarter.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "tetherd is not running for home " + home
            + " and this process cannot start it: put the tetherd jar on the class path, set "
            + ENV_DAEMON_COMMAND + ", or run 'tether daemon start'");
      }
      cmd.add(javaBinary());
      cmd.add("-Xmx" + heapCap(System.getenv(ENV_DAEMON_HEAP)));
      cmd.add("-Xss512k");
      // A small initial heap keeps an idle daemon's resident memory low (about 110 MiB instead of 170 MiB with the
      // default initial heap of 1/64 of RAM); the heap still grows as work needs it.
      cmd.add("-Xms16m");
      cmd.add("-XX:+UseSerialGC");
      // Smaller C2 compilation units. A daemon's per-request paths (HTTP client, store, framing) reach C2 one by one
      // over its first ~20,000 small downloads, and with the default inlining budget each such compile (a method with
      // 3–10 KB of inlined bytecode) costs the one C2 thread 0.1–1 s: 0.6–1.0 CPU-s per batch of 1,000 downloads long
      // after start. With these limits C2 spends about half that, the daemon's other CPU per download is unchanged,
      // and so is a 512 MiB download's CPU and AES-GCM's speed (intrinsics do not depend on inlining); see
      // docs/PERFORMANCE.md, "Background downloads". Ignored by a JVM without these options.
      cmd.add("-XX:+IgnoreUnrecognizedVMOptions");
      cmd.add("-XX:MaxInlineLevel=6");
      cmd.add("-XX:InlineSmallCode=1000");
      cmd.add("-XX:FreqInlineSize=100");
      cmd.addAll(daemonPath());
    }
    cmd.add("--home");
    cmd.add(home.toString());
    return cmd;
  }

  /**
   * The heap cap from {@code $TETHER_DAEMON_HEAP} ({@link #DEFAULT_HEAP} when unset): a whole number of MiB or GiB of at
   * least 64 MiB, such as {@code 512m} or {@code 2g}.
   */
  public static String heapCap(String value) {
    if (value == null || value.isBlank()) {
      return DEFAULT_HEAP;
    }
    String v = value.trim();
    if (!HEAP.matcher(v).matches()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "$" + ENV_DAEMON_HEAP + " is '" + value
          + "': give tetherd's heap cap as a whole number of MiB or GiB, such as 256m or 1g");
    }
    long mib = Long.parseLong(v.substring(0, v.length() - 1)) * (Character.toLowerCase(v.charAt(v.length() - 1)) == 'g' ? 1024 : 1);
    if (mib < 64) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "$" + ENV_DAEMON_HEAP + " is '" + value
          + "': tetherd needs a heap cap of at least 64m");
    }
    return v.toLowerCase(java.util.Locale.ROOT);
  }

  private static String reason(IOException e) {
    if (e instanceof java.nio.file.FileSystemException f) {
      String why = f.getReason() != null ? f.getReason() : e instanceof java.nio.file.NoSuchFileException
          ? "no such file or folder" : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
          : e.getClass().getSimpleName();
      return f.getFile() + ": " + why;
    }
    return String.valueOf(e.getMessage());
  }

  /**
   * Why a tetherd started by {@link #start} is not accepting connections, for an error message: the status it exited
   * with and the last line it printed (in the home's {@code logs/tetherd.out}), or where to look while it runs.
   */
  public static String whyNotStarted(Path home, Process p) {
    Path out = TetherPaths.logDir(home).resolve("tetherd.out");
    if (p.isAlive()) {
      return "it runs but does not accept connections; see " + out + " and " + TetherPaths.logDir(home).resolve("tetherd.log");
    }
    String last = "";
    try (var lines = Files.lines(out)) {
      last = lines.filter(l -> !l.isBlank()).reduce((a, b) -> b).orElse("");
    } catch (IOException | java.io.UncheckedIOException e) {
      // no output to quote
    }
    return "it exited with status " + p.exitValue() + (last.isEmpty() ? "" : ": " + last.strip()) + "; see " + out;
  }

  /**
   * Where the daemon's classes are, as this process has them: on the module path (the daemon's module and all of this
   * module path, plus {@code jdk.net} for the peer credentials of its socket), else on the class path.
   */
  static List<String> daemonPath() {
    String modulePath = System.getProperty("jdk.module.path");
    Module daemon = loadDaemon().getModule();
    if (daemon.isNamed() && modulePath != null && !modulePath.isBlank()) {
      return List.of("-p", modulePath, "--add-modules", "ALL-MODULE-PATH,jdk.net", "-m", daemon.getName() + "/" + DAEMON_MAIN);
    }
    return List.of("-cp", System.getProperty("java.class.path"), DAEMON_MAIN);
  }

  private static Class<?> loadDaemon() {
    try {
      return Class.forName(DAEMON_MAIN, false, DaemonStarter.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e); // checked by command() before
    }
  }

  static String javaBinary() {
    return ProcessHandle.current().info().command()
        .filter(c -> c.endsWith("java"))
        .orElse(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
  }

  /** Starts the daemon detached from this process (its own session when {@code setsid} exists) and returns. */
  public static Process start(Path home) {
    List<String> cmd = new ArrayList<>(command(home));
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      cmd.add(0, "/usr/bin/setsid");
    }
    try {
      Files.createDirectories(TetherPaths.logDir(home));
    } catch (IOException e) {
      throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "cannot start tetherd: its home " + home
          + " cannot be created (" + reason(e) + "); choose another home (--home DIR or $TETHER_HOME)", e);
    }
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.redirectErrorStream(true);
      pb.redirectOutput(ProcessBuilder.Redirect.appendTo(TetherPaths.logDir(home).resolve("tetherd.out").toFile()));
      pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      pb.environment().remove("TETHER_LAUNCHED_IN_BACKGROUND");
      pb.environment().remove("TETHER_WAKE_ID");
      return pb.start();
    } catch (IOException e) {
      // the program, not the whole command line (its class path runs to kilobytes)
      throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "could not start tetherd with " + cmd.get(cmd.size() > 1
          && cmd.get(0).endsWith("setsid") ? 1 : 0) + ": " + e.getMessage() + "; check $" + ENV_DAEMON_COMMAND
          + " or the java on the PATH", e);
    }
  }
}
