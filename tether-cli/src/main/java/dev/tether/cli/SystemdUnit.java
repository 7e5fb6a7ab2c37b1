package dev.tether.cli;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** The systemd user unit that runs tetherd in the foreground for one home. */
final class SystemdUnit {
  static final String UNIT_NAME = "tetherd.service";

  private SystemdUnit() {}

  static Path defaultUnitDir(Map<String, String> env) {
    String xdg = env.get("XDG_CONFIG_HOME");
    Path config = xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()
        ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".config");
    return config.resolve("systemd").resolve("user");
  }

  static String render(Path home, List<String> command) {
    String exec = command.stream().map(SystemdUnit::quote).collect(Collectors.joining(" "));
    return "[Unit]\n"
        + "Description=tetherd, the Tether daemon (home " + home + ")\n"
        + "\n"
        + "[Service]\n"
        + "Type=simple\n"
        + "ExecStart=" + exec + "\n"
        + "Restart=on-failure\n"
        + "RestartSec=2\n"
        + "# tetherd stops cleanly on SIGTERM; anything durable is already on disk.\n"
        + "KillSignal=SIGTERM\n"
        + "TimeoutStopSec=30\n"
        + "\n"
        + "[Install]\n"
        + "WantedBy=default.target\n";
  }

  /** A jar of the per-build copy {@code ./tether} runs from ({@code tether-cli/target/run/BUILD/NAME.jar}). */
  private static final Pattern BUILD_COPY = Pattern.compile(".*/target/run/([0-9]+)/[^/]+\\.jar");

  /**
   * The command with a class path that outlives later builds: {@code ./tether} runs from a copy of the checkout's
   * jars made per build and keeps only the three newest, so a unit naming that copy would stop starting a few builds
   * later. Such jars are copied (once per build) into {@code HOME/lib/BUILD/}, of which the three newest are kept.
   */
  static List<String> durable(List<String> command, Path home) {
    int cpAt = command.indexOf("-cp");
    if (cpAt < 0 || cpAt + 1 >= command.size()) {
      return command;
    }
    List<String> entries = new ArrayList<>();
    boolean copied = false;
    for (String entry : command.get(cpAt + 1).split(java.io.File.pathSeparator)) {
      var m = BUILD_COPY.matcher(entry);
      if (!m.matches()) {
        entries.add(entry);
        continue;
      }
      Path source = Path.of(entry);
      Path target = home.resolve("lib").resolve(m.group(1)).resolve(source.getFileName());
      try {
        if (!Files.exists(target)) {
          Files.createDirectories(target.getParent());
          Path tmp = Files.createTempFile(target.getParent(), ".copy", ".jar");
          Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);
          Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
      } catch (IOException e) {
        throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot copy " + source + " to " + target + " for the unit ("
            + Main.describe(e) + ")");
      }
      entries.add(target.toString());
      copied = true;
    }
    if (copied) {
      keepNewestBuilds(home.resolve("lib"), 3);
    }
    List<String> result = new ArrayList<>(command);
    result.set(cpAt + 1, String.join(java.io.File.pathSeparator, entries));
    return result;
  }

  private static void keepNewestBuilds(Path lib, int keep) {
    try (Stream<Path> builds = Files.list(lib)) {
      List<Path> old = builds.filter(p -> p.getFileName().toString().matches("[0-9]+"))
          .sorted(Comparator.comparingLong((Path p) -> Long.parseLong(p.getFileName().toString())).reversed())
          .skip(keep).toList();
      for (Path dir : old) {
        try (Stream<Path> files = Files.list(dir)) {
          for (Path f : files.toList()) {
            Files.deleteIfExists(f);
          }
        }
        Files.deleteIfExists(dir);
      }
    } catch (IOException | RuntimeException e) {
      // old copies only cost space; a tetherd still running from one keeps its open files either way
    }
  }

  /** systemd's quoting: double quotes around words with spaces or quotes, backslash-escaped. */
  static String quote(String word) {
    if (!word.isEmpty() && word.chars().noneMatch(c -> c == ' ' || c == '"' || c == '\\' || c == '\'' || c == '$' || c == '%')) {
      return word;
    }
    return "\"" + word.replace("\\", "\\\\").replace("\"", "\\\"").replace("$", "$$").replace("%", "%%") + "\"";
  }
}
