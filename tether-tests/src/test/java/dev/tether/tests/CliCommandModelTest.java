package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.cli.Main;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.DaemonProcess;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The CLI as a newcomer meets it: every command takes {@code -h/--help}, the command list shows whole sentences, and
 * mistakes are one line naming what is wrong and what to do, with the documented exit code. The CLI builds only the
 * picocli model of the command it runs (for start-up time); help, completion, root options in either spelling and
 * unknown commands still behave as with the full model. Real CLI processes where the process matters (start-up,
 * environment), else {@link Main#commandLine(String...)} in this JVM: the model {@code Main.run} executes.
 */
class CliCommandModelTest {
  static final List<String> COMMANDS = List.of("demo", "daemon", "completion", "app", "apps", "timeline", "pair", "peers",
      "unpair", "send", "receive", "outstanding", "relay", "download", "upload", "transfers", "cancel", "conditions", "help");
  @TempDir Path tmp;

  /** Runs a command line in this JVM as {@code Main.run} does, on the model Main builds for it. */
  static Cli.Result inProcess(String... args) {
    return execute(Main.commandLine(args), args);
  }

  static Cli.Result execute(CommandLine cl, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    cl.getOut().flush();
    cl.getErr().flush();
    return new Cli.Result(code, out.toString(), err.toString());
  }

  static String[] args(Path home, String... rest) {
    return Stream.concat(Stream.of("--home", home.toString()), Stream.of(rest)).toArray(String[]::new);
  }

  /** Every command and nested subcommand of the full model, each as the words after {@code tether} that name it. */
  static List<List<String>> commandPaths() {
    List<List<String>> paths = new ArrayList<>();
    walk(Main.commandLine(), List.of(), paths);
    return paths;
  }

  private static void walk(CommandLine cl, List<String> path, List<List<String>> paths) {
    cl.getSubcommands().forEach((name, sub) -> {
      List<String> p = new ArrayList<>(path);
      p.add(name);
      paths.add(p);
      walk(sub, p, paths);
    });
  }

  /** A home no daemon can run in (under a regular file): a command that wrongly goes on to connect fails fast. */
  private Path unusableHome() throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "not a folder");
    return file.resolve("home");
  }

  /** One line on standard error, in the CLI's form, free of Java and picocli internals. */
  private static void assertOneLineError(Cli.Result r, int exitCode) {
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(exitCode);
    assertThat(r.err().lines().toList()).as(r.toString()).hasSize(1);
    assertThat(r.err()).as(r.toString()).startsWith("tether: ")
        .doesNotContain("Exception").doesNotContain("java.").doesNotContain("picocli").doesNotContain("null")
        .doesNotContain("Usage:").doesNotContain("at index");
  }

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

    // a real process: --help on a nested subcommand, which only the root accepted before
    Cli.Result nestedHelp = Cli.run(home, "daemon", "status", "--help");
    assertThat(nestedHelp.exitCode()).as(nestedHelp.toString()).isZero();
    assertThat(nestedHelp.out()).startsWith("Usage: tether daemon status [-h] [--json]");
    assertThat(nestedHelp.err()).isEmpty();

    Cli.Result unknown = Cli.run(home, "downlaod");
    assertOneLineError(unknown, 2);
    assertThat(unknown.err()).contains("unknown command 'downlaod' (did you mean download").endsWith("see 'tether --help'\n");
  }

  @Test
  void everyCommandAndSubcommandTakesHelpWithTheTrimmedAndTheFullModel() {
    Path home = tmp.resolve("home");
    List<List<String>> paths = commandPaths();
    assertThat(paths).hasSizeGreaterThan(COMMANDS.size()).contains(List.of("daemon", "status"), List.of("send", "file"));
    CommandLine full = Main.commandLine();
    for (List<String> path : paths) {
      String name = "tether " + String.join(" ", path);
      for (String flag : List.of("-h", "--help")) {
        String[] args = args(home, Stream.concat(path.stream(), Stream.of(flag)).toArray(String[]::new));
        CommandLine trimmed = Main.commandLine(args);
        if (!path.get(0).equals("help") && !path.get(0).equals("completion")) {
          assertThat(trimmed.getSubcommands()).as(name).hasSize(1); // the start-up optimisation holds
        }
        for (Cli.Result r : List.of(execute(trimmed, args), execute(full, args))) {
          assertThat(r.exitCode()).as(name + " " + flag + "\n" + r).isZero();
          assertThat(r.out()).as(name + " " + flag).contains("Usage: " + name + " [-h]")
              .doesNotContainPattern("=<[A-Za-z]+>"); // picocli's default label: the Java field's name
          assertThat(r.err()).as(name + " " + flag).isEmpty();
        }
      }
    }
  }

  @Test
  void helpNamesNestedCommandsInFull() {
    // picocli's help command read only the first name: 'tether help daemon status' showed the help of daemon
    Cli.Result nested = inProcess("help", "daemon", "status");
    assertThat(nested.exitCode()).as(nested.toString()).isZero();
    assertThat(nested.out()).startsWith("Usage: tether daemon status [-h] [--json]");
  }

  /** The root command and every command below it, parents before their subcommands. */
  private static List<CommandSpec> allCommands() {
    List<CommandSpec> specs = new ArrayList<>();
    specs.add(Main.commandLine().getCommandSpec());
    for (int i = 0; i < specs.size(); i++) {
      specs.get(i).subcommands().values().forEach(sub -> specs.add(sub.getCommandSpec()));
    }
    return specs;
  }

  @Test
  void theFirstDescriptionLineOfEveryCommandIsAWholeShortSentence() {
    List<CommandSpec> specs = allCommands();
    assertThat(specs).hasSizeGreaterThan(COMMANDS.size() + 1);
    for (CommandSpec spec : specs) {
      // what the command list of the parent's help shows: the first header line, else the first description line
      String[] header = spec.usageMessage().header();
      String first = header.length > 0 ? header[0] : spec.usageMessage().description()[0];
      assertThat(first).as(spec.qualifiedName()).endsWith(".").hasSizeLessThanOrEqualTo(100).doesNotContain("\n");
    }
    String list = inProcess("--help").out();
    assertThat(list).contains("download     Download URL to FILE in the background, through tetherd.\n");
  }

  @Test
  void everyOptionAndParameterIsDescribedInWholeSentences() {
    List<CommandSpec> specs = allCommands();
    List<String> unfinished = new ArrayList<>();
    for (CommandSpec spec : specs) {
      List<picocli.CommandLine.Model.ArgSpec> args = new ArrayList<>(spec.options());
      args.addAll(spec.positionalParameters());
      for (picocli.CommandLine.Model.ArgSpec arg : args) {
        String[] lines = arg.description();
        String name = spec.qualifiedName() + " " + (arg.isOption()
            ? ((picocli.CommandLine.Model.OptionSpec) arg).longestName()
            : ((picocli.CommandLine.Model.PositionalParamSpec) arg).paramLabel());
        if (lines.length == 0 || lines[0].isBlank()) {
          unfinished.add(name + ": no description");
          continue;
        }
        String last = lines[lines.length - 1].strip();
        if (!(last.endsWith(".") || last.endsWith(".)"))) {
          unfinished.add(name + ": " + String.join(" ", lines));
        }
      }
    }
    assertThat(unfinished).as("descriptions that do not end with a period").isEmpty();
  }

  @Test
  void commandLinesThatDoNotParseAreOneLineWithExit2AndTheHelpToRead() throws Exception {
    Path home = unusableHome();
    record Case(List<String> args, String says, String help) {}
    List<Case> cases = List.of(
        new Case(List.of(), "'tether' needs a command: demo, daemon,", "tether"),
        new Case(List.of("daemon"), "'tether daemon' needs a command: run, start, stop, status, install", "tether daemon"),
        new Case(List.of("send"), "'tether send' needs a command: context, userinfo,", "tether send"),
        new Case(List.of("daemon", "statsu"), "unknown command 'statsu' (did you mean status", "tether daemon"),
        new Case(List.of("download", "--jsn"), "unknown option '--jsn' (did you mean --json?)", "tether download"),
        new Case(List.of("cancel"), "missing required parameter: 'ID'", "tether cancel"),
        new Case(List.of("cancel", "abc"), "invalid value for ID: 'abc' is not a whole number", "tether cancel"),
        new Case(List.of("app", "register", "com.x", "--launch", "true", "--allowance", "soon"),
            "invalid value for option '--allowance': 'soon' is not a duration; use e.g. 500ms", "tether app register"),
        new Case(List.of("app", "budget", "com.x", "--wakes-per-hour", "lots"),
            "invalid value for option '--wakes-per-hour': 'lots' is not a whole number of wakes; use e.g. 4, or 'default'",
            "tether app budget"),
        new Case(List.of("download", "http://127.0.0.1/x", "-o", "x", "--not-before", "tomorrow"),
            "'tomorrow' is not an ISO-8601 instant; use e.g. 2026-11-22T18:00:00Z", "tether download"),
        new Case(List.of("download"), "give URL -o FILE, or --list LIST", "tether download"),
        new Case(List.of("download", "http://127.0.0.1/x"), "give the file to write: -o FILE", "tether download"),
        new Case(List.of("download", "--list", "l", "http://127.0.0.1/x"), "not both", "tether download"),
        new Case(List.of("send", "userinfo", "--app", "com.x"), "give the payload as JSON", "tether send userinfo"),
        new Case(List.of("help", "nosuch"), "unknown command 'nosuch'", "tether"),
        new Case(List.of("help", "daemon", "stats"), "unknown command 'stats'", "tether daemon"));
    for (Case c : cases) {
      Cli.Result r = inProcess(args(home, c.args().toArray(String[]::new)));
      assertOneLineError(r, 2);
      assertThat(r.err()).as(r.toString()).contains(c.says()).endsWith("; see '" + c.help() + " --help'\n");
      assertThat(r.out()).isEmpty();
    }
  }

  @Test
  void badInputFoundBeforeConnectingIsOneLineWithItsExitCode() throws Exception {
    // each is found before connecting: no daemon could run in this home
    Path home = unusableHome();
    Path missing = tmp.resolve("missing");
    record Case(List<String> args, int exit, String says) {}
    List<Case> cases = List.of(
        new Case(List.of("send", "userinfo", "--app", "com.x", "--from", missing.toString()), 4,
            "cannot read " + missing + " (--from): no such file [FILE_NOT_FOUND]"),
        new Case(List.of("send", "file", "--app", "com.x", missing.toString()), 4,
            "cannot send " + missing + ": no such file [FILE_NOT_FOUND]"),
        new Case(List.of("send", "file", "--app", "com.x", tmp.resolve("a-file").toString(), "--metadata", "{bad"), 4,
            "not valid JSON: Unexpected character"),
        new Case(List.of("download", "http://127.0.0.1/x", "-o", "x", "--connections", "0"), 4,
            "--connections is 1 to 64, not 0 [INVALID_PARAMETER]"),
        new Case(List.of("upload", tmp.resolve("a-file").toString(), "http://127.0.0.1/x", "--session", ""), 4,
            "--session: a session identifier has 1 to 256 characters, not '' [INVALID_PARAMETER]"),
        new Case(List.of("timeline", "--limit", "0"), 4, "--limit is at least 1, not 0 [INVALID_PARAMETER]"),
        new Case(List.of("receive", "--app", "com.x", "--out", missing.resolve("x").toString(), "--timeout", "1"), 4,
            "(--out): its folder " + missing + " does not exist"),
        new Case(List.of("demo", "--work-dir", missing.toString()), 4, "--work-dir " + missing + " is not a folder"),
        new Case(List.of("daemon", "install", "--unit-dir", home.toString()), 1,
            "choose a folder you can write with --unit-dir"),
        new Case(List.of("daemon", "run"), 1, "cannot run tetherd: its home " + home + " cannot be created"));
    for (Case c : cases) {
      Cli.Result r = inProcess(args(home, c.args().toArray(String[]::new)));
      assertOneLineError(r, c.exit());
      assertThat(r.err()).as(r.toString()).contains(c.says()).doesNotContain(" -cp ");
    }
    // an empty --home ("$H" with H unset) is not the current folder (commands that would start tetherd are left out:
    // without the fix they would start one here)
    for (List<String> line : List.of(List.of("daemon", "status"), List.of("daemon", "install", "--print"))) {
      Cli.Result r = inProcess(Stream.concat(Stream.of("--home", ""), line.stream()).toArray(String[]::new));
      assertOneLineError(r, 4);
      assertThat(r.err()).contains("--home is empty");
    }
  }

  @Test
  void mistakesTheDaemonFindsAreOneLineNamingWhatToDo() throws Exception {
    Path home = tmp.resolve("home");
    try (DaemonProcess daemon = DaemonProcess.start(home); ServerSocket taken = new ServerSocket(0)) {
      Cli.Result cancel = inProcess(args(home, "cancel", "999"));
      assertOneLineError(cancel, 4);
      assertThat(cancel.err()).contains("there is no transfer 999; 'tether transfers' lists them").doesNotContain("dev.tether.cli");

      Cli.Result plain = inProcess(args(home, "download", "http://example.com/x", "-o", tmp.resolve("x").toString()));
      assertOneLineError(plain, 4);
      assertThat(plain.err()).contains("--allow-plain-http").contains("[INVALID_URL]");

      Cli.Result range = inProcess(args(home, "pair", "listen", "--port", "99999"));
      assertOneLineError(range, 4);
      assertThat(range.err()).contains("the peer port is 1 to 65535 (or 0 for any free port), not 99999");

      Cli.Result busy = inProcess(args(home, "pair", "listen", "--port", Integer.toString(taken.getLocalPort())));
      assertOneLineError(busy, 1);
      assertThat(busy.err()).contains("cannot listen for the other device on port " + taken.getLocalPort());

      Cli.Result nobody = inProcess(args(home, "pair", "listen", "--timeout", "1"));
      assertOneLineError(nobody, 1);
      assertThat(nobody.out()).contains("code: ");
      assertThat(nobody.err()).contains("no device paired within 1 s (--timeout)").doesNotContain("cx.pair");

      Cli.Result fewer = inProcess(args(home, "receive", "--app", "com.example.receiver", "--count", "1", "--timeout", "1"));
      assertOneLineError(fewer, 1);
      assertThat(fewer.err()).contains("received 0 of 1 deliveries within 1 s");
    }
  }

  @Test
  void aClientThatCannotStartTetherdSaysWhyInOneLine() throws Exception {
    // a home that cannot be created (real processes: clients start tetherd only where TETHER_NO_AUTOSTART allows)
    Path unusable = unusableHome();
    Cli.Result noHome = Cli.run(unusable, Map.of("TETHER_NO_AUTOSTART", "0"), "apps");
    assertOneLineError(noHome, 3);
    assertThat(noHome.err()).contains("cannot start tetherd: its home " + unusable + " cannot be created")
        .contains("choose another home").doesNotContain(" -cp ");

    // receive waits for a tetherd managed elsewhere: it says so at once, and fails if none came up in time
    Cli.Result waiting = Cli.run(tmp.resolve("managed"), Map.of("TETHER_NO_AUTOSTART", "1"),
        "receive", "--app", "com.example.receiver", "--timeout", "1");
    assertThat(waiting.exitCode()).as(waiting.toString()).isEqualTo(3);
    assertThat(waiting.err().lines().toList()).as(waiting.toString()).hasSize(2);
    assertThat(waiting.err()).contains("waiting for it (at most 1 s)").contains("did not come up within 1 s (--timeout)");

    // a tetherd command that exits at once
    Path home = tmp.resolve("home");
    long t0 = System.nanoTime();
    Cli.Result r = Cli.run(home, Map.of("TETHER_DAEMON_COMMAND", tmp.resolve("no-such-tetherd").toString(),
        "TETHER_NO_AUTOSTART", "0"), "apps");
    long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
    assertOneLineError(r, 3);
    assertThat(r.err()).contains("no-such-tetherd").contains("[DAEMON_UNAVAILABLE]");
    assertThat(seconds).as("it waited for a process that had exited").isLessThan(15);
  }
}
