package dev.tether.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tether relay set|clear|status}: the MQTT broker links go through when the peer is not reachable directly. */
@Command(name = "relay", description = "The MQTT broker this device's links relay through when a paired device cannot be "
    + "reached directly (each device of a pair sets it). The link's mutual TLS runs end to end: the broker sees only "
    + "TLS records.", subcommands = {RelayCommand.Set.class, RelayCommand.Clear.class, RelayCommand.Status.class})
public final class RelayCommand {
  static void print(CommandSpec spec, ObjectNode r, boolean json) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(Json.write(r));
      return;
    }
    if (r.path("broker").isNull() || r.path("broker").isMissingNode()) {
      out.println("no relay: links are direct only");
      return;
    }
    out.println("relay " + r.path("broker").asText() + "  " + (r.path("connected").asBoolean() ? "connected" : "not connected")
        + "  " + r.path("streams").asInt() + " stream(s)"
        + (r.hasNonNull("lastError") ? "  last error: " + r.path("lastError").asText() : ""));
  }

  /** Sends one relay request to tetherd and prints its answer (the relay's state after it). */
  static int call(CommandSpec spec, String type, ObjectNode body, boolean json) {
    try (DaemonClient c = ConnectivityCommands.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      print(spec, c.call(type, body), json);
      return 0;
    }
  }

  /** {@code tether relay set mqtt://HOST:PORT}. */
  @Command(name = "set", description = "Relay through the MQTT broker at mqtt://HOST[:PORT] (port 1883 by default).")
  public static final class Set implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "BROKER", description = "mqtt://HOST[:PORT]") String broker;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
      ObjectNode b = Json.object();
      b.put("broker", broker);
      return RelayCommand.call(spec, "cx.relay.set", b, json);
    }
  }

  /** {@code tether relay clear}. */
  @Command(name = "clear", description = "Stop relaying; links through the relay drop and are dialed directly.")
  public static final class Clear implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
      return RelayCommand.call(spec, "cx.relay.clear", Json.object(), json);
    }
  }

  /** {@code tether relay status}. */
  @Command(name = "status", description = "The relay broker, whether tetherd is connected to it, and its last error.")
  public static final class Status implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
      return RelayCommand.call(spec, "cx.relay.status", Json.object(), json);
    }
  }
}
