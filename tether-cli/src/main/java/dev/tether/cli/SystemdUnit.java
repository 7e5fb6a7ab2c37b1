package dev.tether.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

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

  /** systemd's quoting: double quotes around words with spaces or quotes, backslash-escaped. */
  static String quote(String word) {
    if (!word.isEmpty() && word.chars().noneMatch(c -> c == ' ' || c == '"' || c == '\\' || c == '\'' || c == '$' || c == '%')) {
      return word;
    }
    return "\"" + word.replace("\\", "\\\\").replace("\"", "\\\"").replace("$", "$$").replace("%", "%%") + "\"";
  }
}
