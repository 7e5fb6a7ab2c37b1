package dev.tether.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TaskOp;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tether apps}: registered apps with their budgets remaining. */
@Command(name = "apps", description = "List registered apps with their launch commands and budgets remaining.")
public final class AppsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--json", description = "Print one JSON object.")
  boolean json;

  @Override
  public Integer call() {
    ObjectNode r = AppCommand.call(spec, TaskOp.APP_LIST, Json.object());
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(Json.write(r));
      return 0;
    }
    if (r.path("apps").isEmpty()) {
      out.println("no apps registered; register one with 'tether app register ID --launch CMD'");
      return 0;
    }
    for (JsonNode a : r.path("apps")) {
      String state = a.path("forceQuit").asBoolean() ? "force-quit" : a.path("running").asBoolean()
          ? (a.path("foreground").asBoolean() ? "foreground" : "running") : "not running";
      out.println(a.path("app").asText() + "  [" + state + "]  launch: " + a.path("launch").asText());
      out.println("    " + budgetLine(a) + ", " + a.path("pendingTasks").asInt() + " task(s) pending");
    }
    return 0;
  }

  static String budgetLine(JsonNode a) {
    JsonNode b = a.path("budget");
    StringBuilder s = new StringBuilder();
    s.append("wakes ").append(b.path("wakesRemaining").asInt()).append('/').append(b.path("wakesPerHour").asInt())
        .append(" left this hour");
    if (!b.path("windowFreesAt").isNull() && !b.path("windowFreesAt").isMissingNode()) {
      s.append(" (next at ").append(b.path("windowFreesAt").asText()).append(')');
    }
    s.append(", runtime ").append(b.path("runtimeRemainingMs").asLong() / 1000).append(" s of ")
        .append(b.path("runtimeDailyMs").asLong() / 1000).append(" s left today");
    s.append(", allowance ").append(a.path("allowanceMs").asLong() / 1000.0).append(" s per wake");
    if (a.path("complicationActive").asBoolean()) {
      s.append(", complication active");
    }
    return s.toString();
  }
}
