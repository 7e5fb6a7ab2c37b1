package dev.tether.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tether cancel ID}: cancels any app's transfer. */
@Command(name = "cancel", description = "Cancel a background transfer (of any app); it completes with CANCELLED.")
public final class CancelCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "ID", description = "The transfer id, as 'tether transfers' shows it.")
  long id;

  @Override
  public Integer call() {
    ObjectNode b = Json.object();
    b.put("id", id);
    try (DaemonClient c = DaemonCommand.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      c.call(TransferOp.CANCEL, b);
    }
    spec.commandLine().getOut().println("cancelled transfer " + id);
    return 0;
  }
}
