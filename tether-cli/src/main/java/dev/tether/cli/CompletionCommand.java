package dev.tether.cli;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code tether completion}: prints a bash/zsh completion script for every tether command. */
@Command(name = "completion", description = {
    "Print a bash (and zsh, with bashcompinit) completion script for tether.",
    "Use: source <(tether completion)"})
final class CompletionCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().print(AutoComplete.bash("tether", spec.root().commandLine()));
    return 0;
  }
}
