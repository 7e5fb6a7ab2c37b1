package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.cli.Main;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI builds only the picocli model of the command it runs (for start-up time); help, completion, root options
 * in either spelling and unknown commands still behave as with the full model. Real CLI processes.
 */
class CliCommandModelTest {
  static final List<String> COMMANDS = List.of("demo", "daemon", "completion", "app", "apps", "timeline", "pair", "peers",
      "unpair", "send", "receive", "outstanding", "relay", "download", "upload", "transfers", "cancel", "conditions", "help");
  @TempDir Path tmp;

  @Test
  void theFullModelHasEveryCommand() {
    assertThat(Main.commandLine().getSubcommands().keySet()).containsExactlyElementsOf(COMMANDS);
  }

  @Test
  void theNameTableMatchesEachCommandsAnnotation() throws Exception {
    Class<?> root = Class.forName("dev.tether.cli.TetherCommand");
    java.lang.reflect.Field classes = root.getDeclaredField("SUBCOMMANDS");
    java.lang.reflect.Field names = root.getDeclaredField("SUBCOMMAND_NAMES");
    classes.setAccessible(true);
    names.setAccessible(true);
    List<?> cs = (List<?>) classes.get(null);
    assertThat(names.get(null)).isEqualTo(cs.stream()
        .map(c -> ((Class<?>) c).getAnnotation(picocli.CommandLine.Command.class).name()).toList());
    assertThat(names.get(null)).isEqualTo(COMMANDS);
  }

  @Test
  void helpListsEveryCommandAndACommandRunsWithOnlyItsOwnModel() {
    Cli.Result help = Cli.run(null, "help");
    assertThat(help.exitCode()).isZero();
    for (String c : COMMANDS) {
      assertThat(help.out()).contains("  " + c + " ");
    }
    Cli.Result downloadHelp = Cli.run(null, "help", "download");
    assertThat(downloadHelp.out()).contains("--list").contains("--connections");

    Path home = tmp.resolve("home");
    Cli.Result status = Cli.run(null, "--home=" + home, "daemon", "status", "--json");
    assertThat(status.exitCode()).as(status.toString()).isNotEqualTo(2);
    assertThat(Json.parse(status.out()).path("home").asText()).isEqualTo(home.toString());
    Cli.Result spaced = Cli.run(null, "--home", home.toString(), "daemon", "status", "--json");
    assertThat(Json.parse(spaced.out()).path("running").asBoolean()).isFalse();

    Cli.Result usage = Cli.run(home, "download");
    assertThat(usage.exitCode()).isEqualTo(4);
    assertThat(usage.err()).contains("usage: tether download URL -o FILE");

    Cli.Result unknown = Cli.run(home, "downlaod");
    assertThat(unknown.exitCode()).isEqualTo(2);
    assertThat(unknown.err()).contains("Unmatched argument").contains("download");
  }
}
