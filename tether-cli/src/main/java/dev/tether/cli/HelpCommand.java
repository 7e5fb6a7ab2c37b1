package dev.tether.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tether help [COMMAND [SUBCOMMAND...]]}: the usage of tether or of any command, nested ones included
 * ({@code tether help daemon status}); picocli's own help command reads only the first name and ignores the rest.
 */
@Command(name = "help", helpCommand = true, description = {
    "Show the help of tether or of one of its commands.",
    "Name nested commands in full, e.g. tether help daemon status (the same as tether daemon status --help)."})
final class HelpCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "The command, then its subcommands.")
  List<String> names;

  @Override
  public Integer call() {
    CommandLine at = spec.root().commandLine();
    for (String name : names == null ? List.<String>of() : names) {
      CommandLine sub = at.getSubcommands().get(name);
      if (sub == null) {
        throw new ParameterException(at, "unknown command '" + name + "'");
      }
      at = sub;
    }
    at.usage(spec.commandLine().getOut());
    return 0;
  }
}
