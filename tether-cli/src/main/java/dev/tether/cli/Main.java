package dev.tether.cli;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.protocol.Version;
import picocli.CommandLine;

/** {@code tether}: the command line for tetherd, transfers, apps and paired devices. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs one command line and returns its exit code (what tests call). */
  public static int run(String... args) {
    CommandLine cl = commandLine();
    int code = cl.execute(args);
    cl.getOut().flush();
    cl.getErr().flush();
    return code;
  }

  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new TetherCommand());
    cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      if (ex instanceof TetherException te) {
        commandLine.getErr().println("tether: " + te.getMessage() + " [" + te.code() + "]");
        return exitCode(te.code());
      }
      commandLine.getErr().println("tether: " + ex);
      return 1;
    });
    return cl;
  }

  /** Exit codes: 1 for a failure of the operation, 3 when the daemon cannot be reached, 4 for bad input. */
  static int exitCode(ErrorCode code) {
    return switch (code) {
      case DAEMON_UNAVAILABLE -> 3;
      case INVALID_PARAMETER, INVALID_URL, FILE_NOT_FOUND, UNKNOWN_APP, UNKNOWN_SESSION, UNKNOWN_TRANSFER -> 4;
      default -> 1;
    };
  }

  static final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"tether " + Version.get()};
    }
  }
}
