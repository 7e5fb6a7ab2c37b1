package dev.tether.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tether transfers}: every app's transfers (the CLI acts for the user). */
@Command(name = "transfers", description = "List every app's background transfers with their state and progress.")
public final class TransfersCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--json", description = "Print one JSON object {\"transfers\": [...]}.")
  boolean json;

  @Override
  public Integer call() {
    ObjectNode b = Json.object();
    b.put("allApps", true);
    ObjectNode r;
    try (DaemonClient c = DaemonCommand.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      r = c.call(TransferOp.LIST, b);
    }
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(Json.write(r));
      return 0;
    }
    if (r.path("transfers").isEmpty()) {
      out.println("no transfers");
      return 0;
    }
    out.printf("%-6s %-9s %-24s %-12s %-22s %s%n", "ID", "STATE", "APP", "SESSION", "BYTES", "URL");
    for (JsonNode t : r.path("transfers")) {
      long expected = t.path("bytesExpected").asLong(-1);
      String bytes = TransferRunner.size(t.path("bytesDone").asLong()) + (expected >= 0 ? "/" + TransferRunner.size(expected) : "");
      String state = t.path("state").asText();
      out.printf("%-6d %-9s %-24s %-12s %-22s %s %s%n", t.path("id").asLong(), state, t.path("app").asText(),
          t.path("session").asText(), bytes, t.path("method").asText("GET"), t.path("url").asText());
      if (t.hasNonNull("description")) {
        out.println("       description " + t.path("description").asText());
      }
      if (t.hasNonNull("waitingFor")) {
        String why = t.hasNonNull("lastError") && List.of("retry", "network").contains(t.path("waitingFor").asText())
            ? ": " + t.path("lastError").asText() : "";
        String next = t.hasNonNull("nextAttemptAt") ? "; next try at " + TransferRunner.clock(t.path("nextAttemptAt").asText()) : "";
        out.println("       waiting for " + t.path("waitingFor").asText() + why + next);
      }
      if (t.hasNonNull("error")) {
        out.println("       error " + t.path("error").path("code").asText() + ": " + t.path("error").path("message").asText());
      }
    }
    return 0;
  }
}
