package dev.tether.daemon.internal.task.launch;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Called on the task thread ({@code tether-tasks}); the JDK's process reaper reports each exit: launches an app's
 * registered command as a real process, {@code /bin/sh -c CMD} in a session of its own ({@code setsid}), so that it
 * outlives nothing it should not and can be ended with everything it started. Output goes to
 * {@code HOME/logs/apps/APP.log}.
 */
public final class ProcessLauncher implements AppLauncher {
  private static final Path SETSID = Path.of("/usr/bin/setsid");

  @Override
  public LaunchedApp launch(LaunchRequest request) throws IOException {
    List<String> cmd = new ArrayList<>();
    if (Files.isExecutable(SETSID)) {
      cmd.add(SETSID.toString());
    }
    cmd.add("/bin/sh");
    cmd.add("-c");
    cmd.add(request.command());
    Files.createDirectories(request.logFile().getParent());
    long offset = Files.exists(request.logFile()) ? Files.size(request.logFile()) : 0;
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(request.environment());
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(request.logFile().toFile()));
    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Process p = pb.start();
    return new ProcessApp(p, request.logFile(), offset);
  }

  private static final class ProcessApp implements LaunchedApp {
    private final Process process;
    private final Path log;
    private final long offset;
    private final CompletableFuture<Integer> exit;

    ProcessApp(Process process, Path log, long offset) {
      this.process = process;
      this.log = log;
      this.offset = offset;
      this.exit = process.onExit().thenApply(Process::exitValue);
    }

    @Override
    public long pid() {
      return process.pid();
    }

    @Override
    public CompletableFuture<Integer> onExit() {
      return exit;
    }

    @Override
    public void terminate() {
      process.descendants().forEach(ProcessHandle::destroy);
      process.destroy();
    }

    @Override
    public void kill() {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }

    @Override
    public String outputTail() {
      try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
        long len = f.length();
        long from = Math.max(offset, len - 600);
        if (len <= from) {
          return "";
        }
        byte[] b = new byte[(int) (len - from)];
        f.seek(from);
        f.readFully(b);
        return new String(b, StandardCharsets.UTF_8).strip();
      } catch (IOException e) {
        return "";
      }
    }
  }
}
