package dev.tether.tests.support;

import static org.awaitility.Awaitility.await;

import dev.tether.TetherException;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The command line of a tetherd process for tests. The end-to-end tests start a few hundred daemons, and a fresh JVM
 * spends seconds of CPU loading tetherd's classes: once per test JVM, a daemon is started and stopped cleanly with
 * {@code -XX:ArchiveClassesAtExit}, and every later daemon maps that class-data-sharing archive (about 0.9 of 4
 * CPU-seconds less per start, measured on the JDK 17 here). Class-data sharing needs a class path of jars only; when
 * the test class path has other folders than this module's own classes (tetherd does not need those), or the archive
 * cannot be made, daemons run without one, as before. A daemon whose JDK cannot use the archive ignores it
 * ({@code -Xshare:auto}, the default).
 */
final class TetherdJvm {
  static final String MAIN = "dev.tether.daemon.Tetherd";

  private static boolean archiveTried;
  private static Path archive;

  private TetherdJvm() {}

  /** {@code java [jvmOptions] ... dev.tether.daemon.Tetherd --home HOME}. */
  static List<String> command(List<String> jvmOptions, Path home) {
    List<String> jars = jarClassPath();
    List<String> cmd = new ArrayList<>();
    cmd.add(JavaProcesses.java());
    // the heap cap tetherd runs with in production, so every end-to-end test shows the daemon's work fits in it
    cmd.add("-Xmx" + dev.tether.internal.DaemonStarter.DEFAULT_HEAP);
    cmd.addAll(jvmOptions);
    cmd.add("-XX:+UseSerialGC");
    if (jars == null) {
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
    } else {
      Path jsa = archive(jars);
      if (jsa != null) {
        cmd.add("-XX:SharedArchiveFile=" + jsa);
      }
      cmd.add("-cp");
      cmd.add(String.join(File.pathSeparator, jars));
    }
    cmd.add(MAIN);
    cmd.add("--home");
    cmd.add(home.toString());
    return cmd;
  }

  /** The test class path without this module's own output folders, or null when other folders remain. */
  private static List<String> jarClassPath() {
    List<String> jars = new ArrayList<>();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (e.endsWith(".jar")) {
        jars.add(e);
      } else if (!isOwnOutput(e)) {
        return null;
      }
    }
    return jars;
  }

  private static boolean isOwnOutput(String entry) {
    Path p = Path.of(entry).toAbsolutePath().normalize();
    return p.endsWith(Path.of("tether-tests", "target", "test-classes")) || p.endsWith(Path.of("tether-tests", "target", "classes"));
  }

  private static synchronized Path archive(List<String> jars) {
    if (archiveTried) {
      return archive;
    }
    archiveTried = true;
    Path dir = null;
    Process p = null;
    try {
      dir = Files.createTempDirectory("tetherd-cds");
      Path clean = dir;
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(clean)));
      Path jsa = dir.resolve("tetherd.jsa");
      Path home = dir.resolve("home");
      List<String> cmd = new ArrayList<>(List.of(JavaProcesses.java(), "-XX:ArchiveClassesAtExit=" + jsa, "-XX:+UseSerialGC",
          "-cp", String.join(File.pathSeparator, jars), MAIN, "--home", home.toString()));
      p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("dump.out").toFile()).start();
      Process dump = p;
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).ignoreExceptionsInstanceOf(TetherException.class)
          .until(() -> {
            if (!dump.isAlive()) {
              throw new IllegalStateException("tetherd exited with " + dump.exitValue());
            }
            try (DaemonClient c = DaemonClient.connect(home, "dev.tether.tests", Json.object(), false)) {
              return c.welcome().path("pid").asLong() == dump.pid();
            }
          });
      try (DaemonClient c = DaemonClient.connect(home, "dev.tether.tests", Json.object(), false)) {
        c.call("daemon.stop", Json.object());
      }
      if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0 && Files.size(jsa) > 0) {
        archive = jsa;
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("tetherd runs without a class-data-sharing archive: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
      }
    }
    return archive;
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // a temp folder left behind
    }
  }
}
