package dev.tether.tests.support;

import dev.tether.protocol.Protocol;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** {@code tether receive --app ID --out FILE} as a real process: the receiving app of connectivity tests. */
public final class ReceiverProcess implements AutoCloseable {
  private final Process process;

  private ReceiverProcess(Process process) {
    this.process = process;
  }

  public static ReceiverProcess start(Path home, String app, Path out, String... extra) throws IOException {
    List<String> args = new ArrayList<>(List.of("--home", home.toString(), "receive", "--app", app, "--out", out.toString()));
    args.addAll(List.of(extra));
    ProcessBuilder pb = new ProcessBuilder(JavaProcesses.javaCommand("dev.tether.cli.Main", args.toArray(String[]::new)));
    // the test owns the daemons: a receiver whose first connection falls in a moment the test killed its daemon must
    // not start one of its own (the test's restart would then find the home taken)
    pb.environment().put(Protocol.ENV_NO_AUTOSTART, "1");
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(out.resolveSibling(out.getFileName() + ".log").toFile()));
    return new ReceiverProcess(pb.start());
  }

  /** Lines written so far (a line being written may be cut: only whole lines count). */
  public static List<String> lines(Path out) throws IOException {
    if (!Files.exists(out)) {
      return List.of();
    }
    String text = Files.readString(out);
    int end = text.lastIndexOf('\n');
    return end < 0 ? List.of() : List.of(text.substring(0, end).split("\n"));
  }

  public Process process() {
    return process;
  }

  public void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill9();
    }
  }
}
