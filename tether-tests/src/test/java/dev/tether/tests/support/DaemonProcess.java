package dev.tether.tests.support;

import static org.awaitility.Awaitility.await;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A real tetherd process for end-to-end tests: start, kill -9, restart, stop. */
public final class DaemonProcess implements AutoCloseable {
  private final Path home;
  private final List<String> jvmOptions;
  private final Map<String, String> environment;
  private Process process;

  public DaemonProcess(Path home, String... jvmOptions) {
    this(home, Map.of(), jvmOptions);
  }

  /** {@code environment} is added to (and overrides) this JVM's environment for the daemon, on every (re)start. */
  public DaemonProcess(Path home, Map<String, String> environment, String... jvmOptions) {
    this.home = home;
    this.environment = Map.copyOf(environment);
    this.jvmOptions = List.of(jvmOptions);
  }

  /** Starts tetherd in {@code home} with these environment variables added (say, a {@code PATH} with fakes first). */
  public static DaemonProcess start(Path home, Map<String, String> environment, String... jvmOptions) {
    DaemonProcess d = new DaemonProcess(home, environment, jvmOptions);
    d.start();
    return d;
  }

  /** Starts tetherd in {@code home}; {@code jvmOptions} (such as {@code -Dname=value}) apply to every (re)start. */
  public static DaemonProcess start(Path home, String... jvmOptions) {
    DaemonProcess d = new DaemonProcess(home, jvmOptions);
    d.start();
    return d;
  }

  public Path home() {
    return home;
  }

  public synchronized DaemonProcess start() {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException("already running");
    }
    List<String> cmd = TetherdJvm.command(jvmOptions, home);
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().putAll(environment);
      pb.redirectErrorStream(true);
      pb.redirectOutput(ProcessBuilder.Redirect.appendTo(home.resolveSibling(home.getFileName() + "-tetherd.out").toFile()));
      process = pb.start();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).ignoreExceptionsInstanceOf(TetherException.class)
        .until(() -> {
          if (!process.isAlive()) {
            throw new IllegalStateException("tetherd exited with " + process.exitValue());
          }
          try (DaemonClient c = client("dev.tether.tests")) {
            return c.welcome().path("pid").asLong() == process.pid();
          }
        });
    return this;
  }

  public DaemonClient client(String appId) {
    return DaemonClient.connect(home, appId, Json.object(), false);
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** SIGKILL, and wait until the process is gone. */
  public synchronized void kill9() {
    process.destroyForcibly();
    try {
      process.waitFor(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A clean stop through the protocol. */
  public synchronized void stop() {
    if (!isAlive()) {
      return;
    }
    try (DaemonClient c = client("dev.tether.tests")) {
      c.call("daemon.stop", Json.object());
    } catch (TetherException e) {
      if (e.code() != ErrorCode.DAEMON_UNAVAILABLE) {
        throw e;
      }
    }
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    if (isAlive()) {
      stop();
    }
  }
}
