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
      // what a command connected to tetherd goes on to use (no daemon here: its classes are loaded directly)
      for (String c : new String[] {"dev.tether.cli.TransferRunner", "dev.tether.cli.TransferRunner$1",
          "dev.tether.internal.UrlSessions", "dev.tether.internal.UrlSessionImpl", "dev.tether.internal.TransferImpl",
          "dev.tether.internal.TransferImpl$Download", "dev.tether.TransferState", "dev.tether.internal.DaemonClient"}) {
        Class.forName(c);
      }
      dev.tether.SessionConfiguration.background("training").maxConnectionsPerHost(6).build();
      dev.tether.TetherOptions.defaults();
      var pipe = java.nio.channels.Pipe.open();
      try (var in = dev.tether.protocol.ChannelStreams.input(pipe.source());
          var out = dev.tether.protocol.ChannelStreams.output(pipe.sink())) {
        out.write(1);
        out.flush();
        in.read();
      }
      var pool = java.util.concurrent.Executors.newSingleThreadExecutor();
      var done = new java.util.concurrent.CompletableFuture<Long>();
      pool.execute(() -> done.complete(java.util.stream.LongStream.of(1, 2).sum()));
      done.thenApply(x -> x + 1).whenComplete((x, e) -> { }).get();
      pool.shutdown();
      String.format("%.1f %s", 1.5, TransferRunner.size(1L << 20));
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
