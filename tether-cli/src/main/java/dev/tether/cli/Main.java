package dev.tether.cli;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.protocol.Version;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/** {@code tether}: the command line for tetherd, transfers, apps and paired devices. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs one command line and returns its exit code (what tests call). */
  public static int run(String... args) {
    CommandLine cl = commandLine(args);
    int code = cl.execute(args);
    cl.getOut().flush();
    cl.getErr().flush();
    return code;
  }

  /** The full command model: every subcommand built (help, completion, nested calls). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new TetherCommand());
    for (Class<?> sub : TetherCommand.SUBCOMMANDS) {
      cl.addSubcommand(sub);
    }
    return withHandlers(cl);
  }

  /**
   * The command model for one command line: when it names a subcommand, only that subcommand's model is built
   * (picocli reflects over every command, option and converter it is given: ~150 ms of each start for all of
   * them). Help, completion and anything unclear get the full model.
   */
  static CommandLine commandLine(String... args) {
    Class<?> invoked = invokedSubcommand(args);
    if (invoked == null) {
      return commandLine();
    }
    CommandLine cl = new CommandLine(new TetherCommand());
    cl.addSubcommand(invoked);
    if (cl.getSubcommands().size() != 1 || !cl.getSubcommands().containsKey(TetherCommand.SUBCOMMAND_NAMES.get(
        TetherCommand.SUBCOMMANDS.indexOf(invoked)))) {
      return commandLine(); // the name table and the annotation disagree (or the command has aliases): build them all
    }
    return withHandlers(cl);
  }

  /** The subcommand a command line names after the root's own options, or null when that is unclear or help. */
  static Class<?> invokedSubcommand(String... args) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--home")) {
        i++;
      } else if (!a.startsWith("--home=")) {
        return a.startsWith("-") || a.equals("help") || a.equals("completion") ? null : subcommandNamed(a);
      }
    }
    return null;
  }

  private static Class<?> subcommandNamed(String name) {
    int i = TetherCommand.SUBCOMMAND_NAMES.indexOf(name);
    return i < 0 ? null : TetherCommand.SUBCOMMANDS.get(i);
  }

  private static CommandLine withHandlers(CommandLine cl) {
    addHelpOptions(cl);
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

  /**
   * Gives every command of the model that has no usage-help option {@code -h, --help} (the root has its own, from
   * {@code mixinStandardHelpOptions}; so has {@code help}). Built here rather than declared on each command: one
   * option spec per command, no reflection, and no command can be added without it.
   */
  private static void addHelpOptions(CommandLine cl) {
    CommandSpec spec = cl.getCommandSpec();
    if (spec.options().stream().noneMatch(CommandLine.Model.OptionSpec::usageHelp)) {
      spec.addOption(CommandLine.Model.OptionSpec.builder("-h", "--help").usageHelp(true)
          .description("Show this help message and exit.").build());
    }
    for (CommandLine sub : cl.getSubcommands().values()) {
      addHelpOptions(sub);
    }
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
