package dev.tether.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.Operation;
import dev.tether.protocol.wire.TaskOp;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tether app register|unregister|budget|stop}: the apps tetherd may launch in the background. */
@Command(name = "app", description = "Register, configure and stop apps that tetherd launches in the background.",
    subcommands = {AppCommand.Register.class, AppCommand.Unregister.class, AppCommand.Budget.class, AppCommand.Stop.class})
public final class AppCommand {
  /** Budget options shared by {@code register} and {@code budget}. */
  static final class BudgetOptions {
    @Option(names = "--allowance", paramLabel = "D", converter = DurationConverter.class,
        description = "Time each wake gets before its tasks expire (e.g. 30s, 2m; default 30s).")
    Duration allowance;

    @Option(names = "--wakes-per-hour", paramLabel = "N|default", converter = WakesPerHourConverter.class, description = "Refresh and URL-session wakes per rolling hour"
        + " (default: 4 with an active complication, else 1; 'default' resets).")
    String wakesPerHour;

    @Option(names = "--complication", paramLabel = "true|false", arity = "0..1", fallbackValue = "true",
        description = "Whether the app has a complication on the active face (true|false).")
    Boolean complication;

    @Option(names = "--daily-runtime", paramLabel = "D", converter = DurationConverter.class,
        description = "Background runtime per rolling day, overrun penalties included (default 15m).")
    Duration dailyRuntime;

    @Option(names = "--url-session-spacing", paramLabel = "D", converter = DurationConverter.class,
        description = "Minimum time between URL-session wakes (default 15m).")
    Duration urlSessionSpacing;

    void into(ObjectNode b) {
      if (allowance != null) {
        b.put("allowanceMs", allowance.toMillis());
      }
      if (wakesPerHour != null) {
        if (wakesPerHour.equalsIgnoreCase("default")) {
          b.putNull("wakesPerHour");
        } else {
          b.put("wakesPerHour", Integer.parseInt(wakesPerHour));
        }
      }
      if (complication != null) {
        b.put("complicationActive", complication);
      }
      if (dailyRuntime != null) {
        b.put("dailyRuntimeMs", dailyRuntime.toMillis());
      }
      if (urlSessionSpacing != null) {
        b.put("urlSessionSpacingMs", urlSessionSpacing.toMillis());
      }
    }
  }

  @Command(name = "register", description = "Register an app with the command that launches it (or update it).")
  static final class Register implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "The app id (reverse-DNS, e.g. com.example.weather).")
    String app;

    @Option(names = "--launch", required = true, paramLabel = "CMD", description = "The command that launches the app (run by /bin/sh -c).")
    String launch;

    @picocli.CommandLine.Mixin
    BudgetOptions budget;

    @Option(names = "--json", description = "Print the registration as JSON.")
    boolean json;

    @Override
    public Integer call() {
      ObjectNode b = Json.object();
      b.put("app", app);
      b.put("launch", launch);
      budget.into(b);
      ObjectNode r = AppCommand.call(spec, TaskOp.APP_REGISTER, b);
      print(spec, json, r, "registered " + r.path("app").asText() + ": launch '" + r.path("launch").asText() + "', "
          + AppsCommand.budgetLine(r));
      return 0;
    }
  }

  @Command(name = "budget", description = "Change an app's allowance and budgets.")
  static final class Budget implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "The app id.")
    String app;

    @picocli.CommandLine.Mixin
    BudgetOptions budget;

    @Option(names = "--json", description = "Print the app as JSON.")
    boolean json;

    @Override
    public Integer call() {
      ObjectNode b = Json.object();
      b.put("app", app);
      budget.into(b);
      ObjectNode r = AppCommand.call(spec, TaskOp.APP_BUDGET, b);
      print(spec, json, r, r.path("app").asText() + ": " + AppsCommand.budgetLine(r));
      return 0;
    }
  }

  @Command(name = "unregister", description = "Forget an app: tetherd no longer launches it.")
  static final class Unregister implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "The app id.")
    String app;

    @Override
    public Integer call() {
      ObjectNode b = Json.object();
      b.put("app", app);
      AppCommand.call(spec, TaskOp.APP_UNREGISTER, b);
      spec.commandLine().getOut().println("unregistered " + app);
      return 0;
    }
  }

  @Command(name = "stop", description = {"Ask an app to exit, or with --force force-quit it.",
      "A force-quit app's background transfers are cancelled and it is not launched in the background until it runs in",
      "the foreground again."})
  static final class Stop implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "ID", description = "The app id.")
    String app;

    @Option(names = "--force", description = "Force quit (as a user swiping the app away).")
    boolean force;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Override
    public Integer call() {
      ObjectNode b = Json.object();
      b.put("app", app);
      b.put("force", force);
      ObjectNode r = AppCommand.call(spec, TaskOp.APP_STOP, b);
      print(spec, json, r, (force ? "force-quit " : "asked to exit: ") + app + " (" + r.path("endedWakes").asInt()
          + " wake(s) ended, " + r.path("closedConnections").asInt() + " connection(s) closed)"
          + (force ? "; not launched in the background until it runs in the foreground again" : ""));
      return 0;
    }
  }

  static ObjectNode call(CommandSpec spec, Operation op, ObjectNode body) {
    try (DaemonClient c = DaemonCommand.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      return c.call(op, body);
    }
  }

  static void print(CommandSpec spec, boolean json, ObjectNode r, String text) {
    PrintWriter out = spec.commandLine().getOut();
    out.println(json ? Json.write(r) : text);
  }

  /** Checks {@code --wakes-per-hour}: a whole number of wakes, or {@code default}. */
  static final class WakesPerHourConverter implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      String v = value.trim();
      if (v.equalsIgnoreCase("default")) {
        return "default";
      }
      try {
        Integer.parseInt(v);
        return v;
      } catch (NumberFormatException e) {
        throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a whole number of wakes; use e.g. 4, or 'default'");
      }
    }
  }

  /** Parses durations such as {@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h}, or ISO-8601 ({@code PT30S}). */
  static final class DurationConverter implements ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      String v = value.trim().toLowerCase(Locale.ROOT);
      try {
        if (v.startsWith("pt") || v.startsWith("p")) {
          return Duration.parse(value.trim().toUpperCase(Locale.ROOT));
        }
        if (v.endsWith("ms")) {
          return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
        }
        long n = Long.parseLong(v.substring(0, v.length() - 1));
        switch (v.charAt(v.length() - 1)) {
          case 's':
            return Duration.ofSeconds(n);
          case 'm':
            return Duration.ofMinutes(n);
          case 'h':
            return Duration.ofHours(n);
          default:
            return Duration.ofSeconds(Long.parseLong(v));
        }
      } catch (RuntimeException e) {
        throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a duration; use e.g. 500ms, 30s, 2m or 1h");
      }
    }
  }
}
