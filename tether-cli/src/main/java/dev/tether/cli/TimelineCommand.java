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
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tether timeline [ID]}: every wake (when, why, how long, outcome) and why each pending task waits. */
@Command(name = "timeline", description = "Show wakes (newest first) and the tasks waiting, with why they wait.")
public final class TimelineCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", paramLabel = "ID", description = "Only this app.")
  String app;

  @Option(names = "--limit", paramLabel = "N", description = "At most this many wakes (default 100).")
  Integer limit;

  @Option(names = "--json", description = "Print one JSON object.")
  boolean json;

  @Override
  public Integer call() {
    ObjectNode b = Json.object();
    if (app != null) {
      b.put("app", app);
    }
    if (limit != null) {
      if (limit < 1) {
        throw new dev.tether.TetherException(dev.tether.ErrorCode.INVALID_PARAMETER, "--limit is at least 1, not " + limit);
      }
      b.put("limit", limit);
    }
    ObjectNode r = AppCommand.call(spec, TaskOp.TIMELINE, b);
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(Json.write(r));
      return 0;
    }
    out.println("wakes:" + (r.path("wakes").isEmpty() ? " none" : ""));
    for (JsonNode w : r.path("wakes")) {
      String outcome = w.path("outcome").isNull() ? "RUNNING (" + w.path("phase").asText() + ")" : w.path("outcome").asText();
      out.println("  " + w.path("startedAt").asText() + "  " + w.path("app").asText() + "  " + outcome + "  "
          + w.path("durationMs").asLong() + " ms" + (w.path("launched").asBoolean() ? " (launched" + (w.has("pid") ? ", pid "
          + w.path("pid").asLong() : "") + ")" : " (running app)")
          + (w.path("overrunMs").asLong() > 0 ? ", overrun " + w.path("overrunMs").asLong() + " ms" : "")
          + (w.path("chargedMs").asLong() > 0 ? ", charged " + w.path("chargedMs").asLong() + " ms" : ""));
      out.println("      why: " + w.path("reason").asText());
      for (JsonNode t : w.path("tasks")) {
        out.println("      " + t.path("kind").asText() + (t.has("sessionIdentifier") ? " " + t.path("sessionIdentifier").asText() : "")
            + "  " + t.path("state").asText("") + (t.path("coalesced").asInt() > 0 ? "  (+" + t.path("coalesced").asInt() + " coalesced)" : ""));
      }
      if (!w.path("error").isNull() && !w.path("error").isMissingNode()) {
        out.println("      error: " + w.path("error").asText());
      }
    }
    out.println("waiting:" + (r.path("waiting").isEmpty() ? " none" : ""));
    for (JsonNode t : r.path("waiting")) {
      out.println("  " + t.path("app").asText() + "  " + t.path("kind").asText()
          + (t.has("sessionIdentifier") ? " " + t.path("sessionIdentifier").asText() : "") + "  " + t.path("reason").asText()
          + (t.path("until").isNull() ? "" : " until " + t.path("until").asText()) + ": " + t.path("detail").asText());
    }
    return 0;
  }
}
