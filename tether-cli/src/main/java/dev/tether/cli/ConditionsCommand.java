package dev.tether.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tether conditions}: shows or overrides the power and network transfers wait for. */
@Command(name = "conditions", description = {"Show or override the power and network conditions transfers wait for.",
    "Discretionary ones need external power and an unmetered network; every transfer to a non-loopback host needs a network.",
    "Overrides are stored; 'auto' reads the system again."})
public final class ConditionsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--power", paramLabel = "external|battery|auto", description = "Override the power source.")
  String power;

  @Option(names = "--network", paramLabel = "unmetered|metered|none|auto",
      description = "Override the network: metered or not, or none (transfers to non-loopback hosts wait for a network).")
  String network;

  @Option(names = "--json", description = "Print one JSON object.")
  boolean json;

  @Override
  public Integer call() {
    ObjectNode b = Json.object();
    if (power != null) {
      b.put("power", power);
    }
    if (network != null) {
      b.put("network", network);
    }
    ObjectNode r;
    try (DaemonClient c = DaemonCommand.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      r = c.call(TransferOp.CONDITIONS, b);
    }
    var out = spec.commandLine().getOut();
    if (json) {
      out.println(Json.write(r));
    } else {
      out.println("power: " + r.path("power").asText() + " (" + setting(r.path("powerSetting").asText()) + ")");
      out.println("network: " + r.path("network").asText() + " (" + setting(r.path("networkSetting").asText()) + ")");
      out.println("discretionary transfers " + (r.path("discretionaryMayRun").asBoolean() ? "may run" : "wait")
          + "; " + r.path("waitingForConditions").asInt() + " waiting for conditions");
      if (r.path("network").asText().equals("none") || r.path("waitingForNetwork").asInt() > 0) {
        out.println("no network: transfers to non-loopback hosts wait; " + r.path("waitingForNetwork").asInt() + " waiting for a network");
      }
    }
    return 0;
  }

  private static String setting(String s) {
    return s.equals("auto") ? "read from the system" : "overridden";
  }
}
