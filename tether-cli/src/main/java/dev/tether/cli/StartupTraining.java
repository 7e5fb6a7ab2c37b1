package dev.tether.cli;

import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Frame;
import dev.tether.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training run behind the {@code ./tether} launcher's class-data-sharing archive: it loads, in one process and
 * without a daemon, the classes a CLI command typically needs (the command model, the daemon client, JSON framing,
 * the transfer runner), so that the JVM can archive them pre-parsed and pre-verified for later starts.
 */
final class StartupTraining {
  private StartupTraining() {}

  public static void main(String[] args) throws Exception {
    Path home = Files.createTempDirectory("tether-cds-training");
    try {
      PrintWriter nowhere = new PrintWriter(Writer.nullWriter());
      run(nowhere, "--help");
      run(nowhere, "--home", home.toString(), "daemon", "status");
      run(nowhere, "--home", home.toString(), "download");
      var body = Json.object();
      body.put("url", "http://127.0.0.1/");
      body.putArray("items").addObject().put("bytes", 1L);
      var codec = new FrameCodec();
      var bytes = new ByteArrayOutputStream();
      codec.write(bytes, new Frame("training", 1, body));
      codec.decode(java.util.Arrays.copyOfRange(bytes.toByteArray(), 4, bytes.size()));
      Json.parseObject(Json.write(body));
      Class.forName("dev.tether.cli.TransferRunner");
      Class.forName("dev.tether.internal.UrlSessionImpl");
    } finally {
      Files.deleteIfExists(home.resolve("tetherd.sock"));
      try (var s = Files.walk(home)) {
        s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void run(PrintWriter out, String... args) {
    var cl = Main.commandLine(args);
    cl.setOut(out);
    cl.setErr(out);
    cl.execute(args);
  }
}
