package dev.tether.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.TetherException;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tether download URL -o FILE}: a background download that tetherd moves to FILE itself. */
@Command(name = "download", description = {"Download URL to FILE in the background, through tetherd.",
    "The download goes on if this command is interrupted, and survives a daemon restart.",
    "Waits and shows progress unless --detach."})
public final class DownloadCommand implements Callable<Integer> {
  private static final java.util.regex.Pattern SPACE = java.util.regex.Pattern.compile("\\s+");
  @Spec CommandSpec spec;

  @Parameters(index = "0", arity = "0..1", paramLabel = "URL", description = "The http:// or https:// URL to fetch.")
  String url;

  @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where the finished file goes (its folder must exist).")
  Path output;

  @Option(names = "--list", paramLabel = "LIST", description = "Download many: each line of LIST is 'URL FILE'.")
  Path list;

  @Option(names = "--session", paramLabel = "ID", defaultValue = "cli", description = "The CLI's session identifier to use (default: ${DEFAULT-VALUE}).")
  String session;

  @Option(names = "--detach", description = "Print the transfer id and return at once; tetherd finishes the download.")
  boolean detach;

  @Option(names = "--json", description = "Print JSON lines (started, progress, completed) instead of a progress bar.")
  boolean json;

  @Option(names = "--connections", paramLabel = "N", defaultValue = "6", description = "At most this many connections per host (1-64, default ${DEFAULT-VALUE}).")
  int connections;

  @Option(names = "--not-before", paramLabel = "INSTANT", converter = InstantConverter.class,
      description = "Do not start before this ISO-8601 instant (e.g. 2026-11-22T18:00:00Z).")
  Instant notBefore;

  @Option(names = "--description", paramLabel = "TEXT", description = "A free description shown by 'tether transfers'.")
  String description;

  @Option(names = "--allow-plain-http", description = "Allow plain http:// to hosts other than loopback.")
  boolean allowPlainHttp;

  @Override
  public Integer call() throws IOException {
    if (connections < 1 || connections > 64) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "--connections is 1 to 64, not " + connections);
    }
    List<ObjectNode> bodies = new ArrayList<>();
    if (list != null) {
      if (url != null || output != null) {
        throw new ParameterException(spec.commandLine(), "give either URL -o FILE or --list LIST, not both");
      }
      if (!Files.isReadable(list)) {
        throw new TetherException(ErrorCode.FILE_NOT_FOUND, "cannot read the list " + list);
      }
      int n = 0;
      for (String line : Files.readAllLines(list, StandardCharsets.UTF_8)) {
        n++;
        String l = line.strip();
        if (l.isEmpty() || l.startsWith("#")) {
          continue;
        }
        String[] parts = SPACE.split(l, 2);
        if (parts.length != 2) {
          throw new TetherException(ErrorCode.INVALID_PARAMETER, list + " line " + n + ": expected 'URL FILE', got '" + l + "'");
        }
        bodies.add(body(parts[0], Path.of(parts[1])));
      }
    } else {
      if (url == null || output == null) {
        throw new ParameterException(spec.commandLine(), url == null && output == null
            ? "give URL -o FILE, or --list LIST" : url == null ? "give the URL to download" : "give the file to write: -o FILE");
      }
      bodies.add(body(url, output));
    }
    SessionConfiguration config = TransferRunner.session(() -> SessionConfiguration.background(session)
        .maxConnectionsPerHost(connections).allowsPlainHttp(allowPlainHttp).sendsLaunchEvents(false).build());
    try (DaemonClient client = DaemonCommand.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      return new TransferRunner(spec.commandLine().getOut(), spec.commandLine().getErr(), json)
          .run(client, config, TransferOp.DOWNLOAD, bodies, detach);
    }
  }

  /** Parses {@code --not-before}: an ISO-8601 instant such as {@code 2026-11-22T18:00:00Z}. */
  static final class InstantConverter implements picocli.CommandLine.ITypeConverter<Instant> {
    @Override
    public Instant convert(String value) {
      try {
        return Instant.parse(value.trim());
      } catch (java.time.format.DateTimeParseException e) {
        throw new picocli.CommandLine.TypeConversionException("'" + value
            + "' is not an ISO-8601 instant; use e.g. 2026-11-22T18:00:00Z");
      }
    }
  }

  private ObjectNode body(String u, Path file) {
    ObjectNode b = Json.object();
    b.put("url", u);
    b.put("destination", file.toAbsolutePath().normalize().toString());
    if (notBefore != null) {
      b.put("notBefore", notBefore.toString());
    }
    if (description != null) {
      b.put("description", description);
    }
    return b;
  }
}
