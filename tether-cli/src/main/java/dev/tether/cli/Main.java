package dev.tether.cli;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.internal.Errors;
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
   * them). Help, completion and anything unclear get the full model. What {@link #run} executes {@code args} with.
   */
  public static CommandLine commandLine(String... args) {
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
      if (ex instanceof dev.tether.protocol.TetherException wire) {
        ex = Errors.toPublic(wire); // raised by tether-protocol's codecs or an in-process tetherd
      }
      if (ex instanceof TetherException te) {
        commandLine.getErr().println("tether: " + te.getMessage() + " [" + te.code() + "]");
        return exitCode(te.code());
      }
      commandLine.getErr().println("tether: " + describe(ex));
      return 1;
    });
    cl.setParameterExceptionHandler((ex, args) -> {
      CommandLine at = ex.getCommandLine();
      at.getErr().println("tether: " + usageError(ex) + "; see '" + at.getCommandSpec().qualifiedName() + " --help'");
      return 2;
    });
    return cl;
  }

  /**
   * A command line that does not parse, in one line: what is wrong (picocli's words, or ours where those name its
   * internals), without the usage help that picocli prints by default (the line says where to find it).
   */
  static String usageError(CommandLine.ParameterException ex) {
    CommandLine at = ex.getCommandLine();
    String name = at.getCommandSpec().qualifiedName();
    String message = String.valueOf(ex.getMessage());
    if (!at.getSubcommands().isEmpty() && message.startsWith("Missing required subcommand")) {
      return "'" + name + "' needs a command: " + String.join(", ", new java.util.LinkedHashSet<>(
          at.getSubcommands().keySet()));
    }
    if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      String first = u.getUnmatched().get(0);
      boolean command = !at.getSubcommands().isEmpty() && !first.startsWith("-")
          && at.getCommandSpec().positionalParameters().isEmpty();
      java.util.List<String> suggestions = u.getSuggestions();
      return (first.startsWith("-") ? "unknown option '" : command ? "unknown command '" : "unexpected argument '")
          + first + "'" + (suggestions.isEmpty() ? "" : " (did you mean " + String.join(" or ", suggestions) + "?)");
    }
    // picocli's own words, less its internals: "positional parameter at index 0 (ID)" is ID, a "long" a whole number
    message = POSITIONAL.matcher(message).replaceAll("$1");
    message = JAVA_NUMBER.matcher(message).replaceAll("is not a whole number");
    message = message.endsWith(".") ? message.substring(0, message.length() - 1) : message;
    return message.isEmpty() ? message : Character.toLowerCase(message.charAt(0)) + message.substring(1);
  }

  private static final java.util.regex.Pattern POSITIONAL =
      java.util.regex.Pattern.compile("positional parameter at index \\d+ \\(([^)]*)\\)");
  private static final java.util.regex.Pattern JAVA_NUMBER =
      java.util.regex.Pattern.compile("is not an? (long|int|short|byte|java\\.lang\\.(Long|Integer))\\b");

  /** An unexpected failure in one line: what failed, without the exception's class where its message says it all. */
  static String describe(Throwable ex) {
    if (ex instanceof java.nio.file.NoSuchFileException e) {
      return "no such file or folder: " + e.getFile();
    }
    if (ex instanceof java.nio.file.AccessDeniedException e) {
      return "permission denied: " + e.getFile();
    }
    if (ex instanceof java.nio.file.FileSystemException e) {
      return e.getFile() + ": " + (e.getReason() == null ? e.getClass().getSimpleName() : e.getReason());
    }
    String message = ex.getMessage();
    return message == null || message.isBlank() ? ex.getClass().getSimpleName() : message;
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
      case INVALID_PARAMETER, INVALID_URL, FILE_NOT_FOUND, UNKNOWN_APP, UNKNOWN_SESSION, UNKNOWN_TRANSFER,
          PAYLOAD_TOO_LARGE, PAYLOAD_UNSUPPORTED_TYPES -> 4;
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
