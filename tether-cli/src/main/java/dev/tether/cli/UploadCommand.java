package dev.tether.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.SessionConfiguration;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tether upload FILE URL}: a background upload of a file's contents. */
@Command(name = "upload", description = {"Upload FILE to URL in the background, through tetherd (PUT by default).",
    "The upload goes on if this command is interrupted, and starts again after a daemon restart.",
    "Waits unless --detach."})
public final class UploadCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "The file to send.")
  Path file;

  @Parameters(index = "1", paramLabel = "URL", description = "Where to send it.")
  String url;

  @Option(names = "--method", paramLabel = "PUT|POST", defaultValue = "PUT", description = "PUT or POST (default ${DEFAULT-VALUE}).")
  String method;

  @Option(names = "--session", paramLabel = "ID", defaultValue = "cli", description = "The CLI's session identifier to use (default: ${DEFAULT-VALUE}).")
  String session;

  @Option(names = "--detach", description = "Print the transfer id and return at once.")
  boolean detach;

  @Option(names = "--json", description = "Print JSON lines (started, uploadProgress, completed).")
  boolean json;

  @Option(names = "--allow-plain-http", description = "Allow plain http:// to hosts other than loopback.")
  boolean allowPlainHttp;

  @Override
  public Integer call() {
    ObjectNode b = Json.object();
    b.put("url", url);
    b.put("file", file.toAbsolutePath().normalize().toString());
    b.put("method", method);
    SessionConfiguration config = TransferRunner.session(() -> SessionConfiguration.background(session)
        .allowsPlainHttp(allowPlainHttp).sendsLaunchEvents(false).build());
    try (DaemonClient client = DaemonCommand.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      return new TransferRunner(spec.commandLine().getOut(), spec.commandLine().getErr(), json)
          .run(client, config, TransferOp.UPLOAD, List.of(b), detach);
    }
  }
}
