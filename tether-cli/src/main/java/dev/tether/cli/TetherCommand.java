package dev.tether.cli;

import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.TetherPaths;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The root command; holds the options every subcommand shares. */
@Command(name = "tether", mixinStandardHelpOptions = true, versionProvider = Main.VersionProvider.class,
    description = "Background transfers, wakes and paired-device connectivity for apps that are rarely running.")
public final class TetherCommand {
  /** The subcommands, in help order. Main builds only the one a command line names (picocli's model is costly). */
  static final List<Class<?>> SUBCOMMANDS = List.of(DemoCommand.class, DaemonCommand.class, CompletionCommand.class,
      AppCommand.class, AppsCommand.class, TimelineCommand.class,
      ConnectivityCommands.Pair.class, ConnectivityCommands.Peers.class, ConnectivityCommands.Unpair.class,
      ConnectivityCommands.Send.class, ConnectivityCommands.Receive.class, ConnectivityCommands.Outstanding.class,
      RelayCommand.class,
      DownloadCommand.class, UploadCommand.class, TransfersCommand.class, CancelCommand.class, ConditionsCommand.class,
      HelpCommand.class);

  /**
   * The names of {@link #SUBCOMMANDS}, in the same order (each its {@code @Command} name): finding the command a line
   * names by reading every subcommand's annotation would parse them all, and load their nested commands, at each start.
   */
  static final List<String> SUBCOMMAND_NAMES = List.of("demo", "daemon", "completion", "app", "apps", "timeline",
      "pair", "peers", "unpair", "send", "receive", "outstanding", "relay", "download", "upload", "transfers", "cancel",
      "conditions", "help");

  /** The app id the CLI connects as when a command acts on the user's behalf rather than an app's. */
  public static final String CLI_APP_ID = "dev.tether.cli";

  @Option(names = "--home", paramLabel = "DIR", description = "tetherd's home folder (default: $TETHER_HOME, else $XDG_DATA_HOME/tether).")
  Path home;

  public Path home() {
    if (home != null && home.toString().isBlank()) {
      // an empty --home (say "$H" with H unset) would be the current folder: a home nobody meant to create there
      throw new dev.tether.TetherException(dev.tether.ErrorCode.INVALID_PARAMETER,
          "--home is empty: give tetherd's home folder, or leave --home out for the default");
    }
    return TetherPaths.resolveHome(home);
  }

  /** Connects to the daemon as {@code appId}, starting it when it is not running. */
  public DaemonClient connect(String appId) {
    var hello = Json.object();
    hello.put("kind", "cli");
    return DaemonClient.connect(home(), appId, hello, TetherOptions.defaults().startDaemon());
  }

  /** Connects without starting the daemon. */
  public DaemonClient connectIfRunning(String appId) {
    var hello = Json.object();
    hello.put("kind", "cli");
    return DaemonClient.connect(home(), appId, hello, false);
  }
}
