package dev.tether.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ActivationState;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.ReceivedFile;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.internal.ConnectivitySessionImpl;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.TetherAccess;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import dev.tether.protocol.wire.ConnectivityOp;
import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Paired-device commands: {@code pair}, {@code peers}, {@code unpair}, {@code send}, {@code receive}, {@code outstanding}. */
public final class ConnectivityCommands {
  private ConnectivityCommands() {}

  static TetherCommand root(CommandSpec spec) {
    return (TetherCommand) spec.root().userObject();
  }

  /** {@code tether pair listen|connect}. */
  @Command(name = "pair", description = "Pair this device's tetherd with another one.",
      subcommands = {Listen.class, Connect.class})
  public static final class Pair {}

  @Command(name = "listen", description = "Print this device's address and a one-time code, then wait until the other device pairs with it.")
  static final class Listen implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--port", paramLabel = "P", description = "Peer port to listen on (stored; default: the stored one, else an ephemeral one).")
    Integer port;

    @Option(names = "--role", paramLabel = "primary|companion", description = "This device's role: primary (default) or companion.", defaultValue = "primary")
    String role;

    @Option(names = "--host", paramLabel = "H", description = "Host name or address to print for the other device (default: this machine's first non-loopback IPv4 address).")
    String host;

    @Option(names = "--timeout", paramLabel = "S", description = "Seconds to wait for the other device (default 600).", defaultValue = "600")
    long timeout;

    @Override
    public Integer call() {
      try (DaemonClient c = root(spec).connect(TetherCommand.CLI_APP_ID)) {
        ObjectNode b = Json.object();
        if (port != null) {
          b.put("port", port);
        }
        b.put("role", role);
        if (host != null) {
          b.put("host", host);
        }
        ObjectNode offer = c.call(ConnectivityOp.PAIR_LISTEN, b);
        PrintWriter out = spec.commandLine().getOut();
        out.println("address: " + offer.path("address").asText());
        out.println("code: " + offer.path("code").asText());
        out.println("role: " + offer.path("role").asText());
        out.println("On the other device run: tether pair connect " + offer.path("address").asText() + " " + offer.path("code").asText());
        out.flush();
        c.callTimeout(Duration.ofSeconds(timeout));
        ObjectNode w = Json.object();
        w.put("code", offer.path("code").asText());
        ObjectNode peer;
        try {
          peer = c.call(ConnectivityOp.PAIR_WAIT, w);
        } catch (TetherException e) {
          if (e.code() != ErrorCode.TIMED_OUT) {
            throw e;
          }
          throw new TetherException(ErrorCode.TIMED_OUT, "no device paired within " + timeout
              + " s (--timeout); run 'tether pair listen' again for a new code");
        }
        out.println("paired with " + peer.path("peer").asText() + " (" + peer.path("role").asText() + ")");
        return 0;
      }
    }
  }

  @Command(name = "connect", description = "Pair with the device listening at HOST:PORT using its one-time code.")
  static final class Connect implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "HOST:PORT", description = "The address that `tether pair listen` printed on the other device.") String address;

    @Parameters(index = "1", paramLabel = "CODE", description = "The one-time code that `tether pair listen` printed.") String code;

    @Override
    public Integer call() {
      try (DaemonClient c = root(spec).connect(TetherCommand.CLI_APP_ID)) {
        ObjectNode b = Json.object();
        b.put("address", address);
        b.put("code", code);
        ObjectNode peer = c.call(ConnectivityOp.PAIR_CONNECT, b);
        spec.commandLine().getOut().println("paired with " + peer.path("peer").asText() + " (" + peer.path("role").asText() + ")");
        return 0;
      }
    }
  }

  @Command(name = "peers", description = "List paired devices; --activate switches the active companion.")
  public static final class Peers implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Option(names = "--activate", paramLabel = "PEER", description = "Make this companion the active one (primary only).")
    String activate;

    @Override
    public Integer call() {
      try (DaemonClient c = root(spec).connect(TetherCommand.CLI_APP_ID)) {
        if (activate != null) {
          ObjectNode b = Json.object();
          b.put("peer", activate);
          c.call(ConnectivityOp.PEERS_ACTIVATE, b);
        }
        ObjectNode r = c.call(ConnectivityOp.PEERS, Json.object());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
          out.println(Json.write(r));
          return 0;
        }
        out.println("this device: " + r.path("fingerprint").asText() + " (" + r.path("role").asText() + ", peer port "
            + r.path("port").asInt() + ")");
        if (r.path("peers").isEmpty()) {
          out.println("no paired devices");
        }
        for (JsonNode p : r.path("peers")) {
          out.println(p.path("peer").asText() + "  " + p.path("role").asText() + (p.path("active").asBoolean() ? " (active)" : "")
              + "  " + (p.path("connected").asBoolean() ? "connected" + (p.has("via") ? " (" + p.path("via").asText() + ")" : "") : "not connected")
              + (p.has("address") ? "  " + p.path("address").asText() : "") + "  paired " + p.path("pairedAt").asText());
          if (p.hasNonNull("lastError")) {
            out.println("    cannot link (last try " + p.path("lastErrorAt").asText() + "): " + p.path("lastError").asText());
          }
        }
        return 0;
      }
    }
  }

  @Command(name = "unpair", description = "Forget a paired device (by fingerprint or a unique prefix of it).")
  public static final class Unpair implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "PEER", description = "The peer's fingerprint as `tether peers` shows it, or a unique prefix of it.") String peer;

    @Override
    public Integer call() {
      try (DaemonClient c = root(spec).connect(TetherCommand.CLI_APP_ID)) {
        ObjectNode b = Json.object();
        b.put("peer", peer);
        ObjectNode r = c.call(ConnectivityOp.UNPAIR, b);
        spec.commandLine().getOut().println("unpaired " + r.path("peer").asText());
        return 0;
      }
    }
  }

  /** {@code tether send context|userinfo|complication|message|file}. */
  @Command(name = "send", description = "Send to the counterpart app on the paired device, acting as --app.",
      subcommands = {SendPayload.Context.class, SendPayload.UserInfo.class, SendPayload.Complication.class,
          SendPayload.Message.class, SendFile.class})
  public static final class Send {}

  abstract static class SendPayload implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--app", paramLabel = "ID", required = true, description = "The app id to act as.") String app;

    @Parameters(index = "0", arity = "0..1", paramLabel = "JSON", description = "The payload as a JSON object.") String json;

    @Option(names = "--from", paramLabel = "FILE", description = "Send one payload per line of FILE (JSON objects), in order.")
    Path from;

    @Option(names = "--json", description = "Print one JSON line per transfer.") boolean printJson;

    abstract String what();

    abstract ConnectivityOp requestType();

    abstract int limit();

    void decorate(ObjectNode body) {}

    @Override
    public Integer call() throws IOException {
      if ((json == null) == (from == null)) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), json == null
            ? "give the payload as JSON (e.g. '{\"temperature\": 21}') or --from FILE" : "give the payload as JSON or --from FILE, not both");
      }
      if (from != null && !Files.isReadable(from)) {
        throw new TetherException(ErrorCode.FILE_NOT_FOUND, "cannot read " + from + " (--from): "
            + (Files.exists(from) ? "permission denied" : "no such file"));
      }
      PrintWriter out = spec.commandLine().getOut();
      ObjectNode single = json == null ? null : body(ArgumentText.check(json, "JSON"));
      try (DaemonClient c = root(spec).connect(app)) {
        if (single != null) {
          ObjectNode r = c.call(requestType(), single);
          out.println(Json.write(r));
          return 0;
        }
        boolean batched = requestType() == ConnectivityOp.USER_INFO && !(this instanceof Complication);
        int window = batched ? 16 : 2048;
        Deque<CompletableFuture<ObjectNode>> inFlight = new ArrayDeque<>();
        int n = 0;
        com.fasterxml.jackson.databind.node.ArrayNode items = Json.array();
        long itemBytes = 0;
        try (Utf8Lines in = new Utf8Lines(from, "--from")) {
          String line;
          while ((line = in.next()) != null) {
            if (line.isBlank()) {
              continue;
            }
            ObjectNode b;
            try {
              b = body(line);
            } catch (TetherException e) {
              throw new TetherException(e.code(), from + " (--from) line " + in.lineNumber() + ": " + e.getMessage());
            }
            n++;
            if (batched) {
              items.add(b);
              itemBytes += line.length() * 2 + 64;
              if (items.size() < 256 && itemBytes < 4 * 1024 * 1024) {
                continue;
              }
              itemBytes = 0;
              ObjectNode batch = Json.object();
              batch.set("items", items);
              inFlight.add(c.request(ConnectivityOp.USER_INFO_BATCH, batch));
              items = Json.array();
            } else {
              inFlight.add(c.request(requestType(), b));
            }
            while (inFlight.size() >= window) {
              print(out, Store.join(inFlight.poll()));
            }
          }
        }
        if (!items.isEmpty()) {
          ObjectNode batch = Json.object();
          batch.set("items", items);
          inFlight.add(c.request(ConnectivityOp.USER_INFO_BATCH, batch));
        }
        while (!inFlight.isEmpty()) {
          print(out, Store.join(inFlight.poll()));
        }
        out.println("{\"sent\":" + n + "}");
        return 0;
      }
    }

    private void print(PrintWriter out, ObjectNode r) {
      if (!printJson) {
        return;
      }
      if (r.has("ids")) {
        for (JsonNode id : r.path("ids")) {
          ObjectNode one = Json.object();
          one.put("id", id.asText());
          out.println(Json.write(one));
        }
      } else {
        out.println(Json.write(r));
      }
    }

    ObjectNode body(String text) {
      ObjectNode b = Json.object();
      b.set("payload", dev.tether.internal.Errors.translate(() -> PropertyList.encodePlainJson(text, limit(), what())));
      decorate(b);
      return b;
    }

    @Command(name = "context", description = "Update the application context (latest wins).")
    static final class Context extends SendPayload {
      String what() {
        return "application context";
      }

      ConnectivityOp requestType() {
        return ConnectivityOp.CONTEXT;
      }

      int limit() {
        return PropertyList.MAX_CONTEXT_BYTES;
      }
    }

    @Command(name = "userinfo", description = "Queue user info transfers (stored, in order, exactly once).")
    static class UserInfo extends SendPayload {
      String what() {
        return "user info";
      }

      ConnectivityOp requestType() {
        return ConnectivityOp.USER_INFO;
      }

      int limit() {
        return PropertyList.MAX_MESSAGE_BYTES;
      }
    }

    @Command(name = "complication", description = "Queue complication user info (primary to companion, ahead of the queue).")
    static final class Complication extends UserInfo {
      @Override
      void decorate(ObjectNode body) {
        body.put("complication", true);
      }
    }

    @Command(name = "message", description = "Send a live message and print the reply (the counterpart must be reachable).")
    static final class Message extends SendPayload {
      @Option(names = "--timeout", paramLabel = "S", description = "Seconds to wait for the reply (default 30).", defaultValue = "30") long timeout;

      String what() {
        return "message";
      }

      ConnectivityOp requestType() {
        return ConnectivityOp.MESSAGE;
      }

      int limit() {
        return PropertyList.MAX_MESSAGE_BYTES;
      }

      @Override
      void decorate(ObjectNode body) {
        body.put("replyExpected", true);
        body.put("timeoutMillis", timeout * 1000);
      }

      @Override
      public Integer call() throws IOException {
        if (json == null) {
          return super.call();
        }
        ObjectNode b = body(ArgumentText.check(json, "JSON"));
        try (DaemonClient c = root(spec).connect(app)) {
          c.callTimeout(Duration.ofSeconds(timeout + 5));
          ObjectNode r = c.call(requestType(), b);
          spec.commandLine().getOut().println(Json.write(PropertyList.toPlainJson(PropertyList.fromJson(r.get("payload")))));
          return 0;
        }
      }
    }
  }

  @Command(name = "file", description = "Queue a file (snapshotted now) with optional metadata.")
  static final class SendFile implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--app", paramLabel = "ID", required = true, description = "The app id to act as.") String app;

    @Parameters(index = "0", paramLabel = "PATH", description = "The file to send; it is copied when the command returns.") Path path;

    @Option(names = "--metadata", paramLabel = "JSON", description = "Metadata as a JSON object.") String metadata;

    @Override
    public Integer call() {
      if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
        throw new TetherException(ErrorCode.FILE_NOT_FOUND, "cannot send " + path + ": "
            + (!Files.exists(path) ? "no such file" : Files.isDirectory(path) ? "it is a folder" : "permission denied"));
      }
      ObjectNode b = Json.object();
      b.put("path", path.toAbsolutePath().normalize().toString());
      if (metadata != null) {
        b.set("metadata", PropertyList.encodeTree(PropertyList.fromPlainJson(ArgumentText.check(metadata, "--metadata")), PropertyList.MAX_MESSAGE_BYTES, "file metadata"));
      }
      try (DaemonClient c = root(spec).connect(app)) {
        c.callTimeout(Duration.ofMinutes(30));
        spec.commandLine().getOut().println(Json.write(c.call(ConnectivityOp.FILE, b)));
        return 0;
      }
    }
  }

  @Command(name = "outstanding", description = "List an app's user info and file transfers not yet stored by the paired device.")
  public static final class Outstanding implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--app", paramLabel = "ID", required = true, description = "The app id.") String app;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
      try (DaemonClient c = root(spec).connect(app)) {
        ObjectNode r = dev.tether.internal.OutstandingPages.all(c);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
          out.println(Json.write(r));
          return 0;
        }
        out.println(r.path("userInfo").size() + " user info transfer(s), " + r.path("files").size() + " file transfer(s) outstanding");
        for (JsonNode n : r.path("userInfo")) {
          out.println("userinfo " + n.path("id").asText() + (n.path("complication").asBoolean() ? " (complication)" : "")
              + " " + Json.write(PropertyList.toPlainJson(PropertyList.fromJson(n.get("payload"))))
              + (n.hasNonNull("errorCode") ? " held back [" + n.path("errorCode").asText() + "] " + n.path("error").asText() : ""));
        }
        for (JsonNode n : r.path("files")) {
          out.println("file " + n.path("id").asText() + " " + n.path("name").asText() + " " + n.path("size").asLong() + " bytes"
              + (n.hasNonNull("errorCode") ? " held back [" + n.path("errorCode").asText() + "] " + n.path("error").asText() : ""));
        }
        return 0;
      }
    }
  }

  /**
   * {@code tether receive}: acts as the app, prints every delivery as one JSON line and acknowledges it after printing.
   * With {@code --out FILE} lines are appended to FILE instead, and ids already in FILE are not written again (a
   * delivery repeated because this process or tetherd died before the acknowledgement): the file holds each delivery
   * exactly once.
   */
  @Command(name = "receive", description = "Act as an app: activate its session, print each delivery as one JSON line, acknowledge it.")
  public static final class Receive implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--app", paramLabel = "ID", required = true, description = "The app id to act as.") String app;

    @Option(names = "--json", description = "Print deliveries as JSON lines (the default; kept for scripts).") boolean json;

    @Option(names = "--count", paramLabel = "N", description = "Exit after this many deliveries.") Integer count;

    @Option(names = "--timeout", paramLabel = "S", description = "Exit after this many seconds (status 0 with --count only if all arrived).") Long timeout;

    @Option(names = "--out", paramLabel = "FILE", description = "Append lines to FILE (exactly once per delivery id) instead of printing.")
    Path outFile;

    @Option(names = "--files", paramLabel = "DIR", description = "Move received files into DIR (else they are deleted after printing).")
    Path filesDir;

    @Option(names = "--complication", description = "Declare this app's complication enabled (companion side).") boolean complication;

    @Override
    public Integer call() throws Exception {
      Set<String> written = new HashSet<>();
      OutputStream sink;
      if (outFile != null && !Files.isDirectory(outFile.toAbsolutePath().getParent())) {
        throw new TetherException(ErrorCode.FILE_NOT_FOUND, "cannot write " + outFile + " (--out): its folder "
            + outFile.toAbsolutePath().getParent() + " does not exist; create it first");
      }
      if (filesDir != null) {
        if (Files.exists(filesDir) && !Files.isDirectory(filesDir)) {
          throw new TetherException(ErrorCode.INVALID_PARAMETER, "--files " + filesDir + " is not a folder; give the folder"
              + " received files are moved into");
        }
        try {
          Files.createDirectories(filesDir);
        } catch (IOException e) {
          throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot create the folder " + filesDir + " (--files): "
              + Main.describe(e));
        }
      }
      java.util.concurrent.atomic.AtomicReference<TetherException> failure = new java.util.concurrent.atomic.AtomicReference<>();
      if (outFile != null) {
        if (Files.exists(outFile)) {
          for (String line : Files.readAllLines(outFile, StandardCharsets.UTF_8)) {
            try {
              written.add(Json.parse(line).path("id").asText());
            } catch (RuntimeException e) {
              // a line cut by a crash: its delivery was not acknowledged and comes again
            }
          }
          truncatePartialLine(outFile);
        }
        sink = new FileOutputStream(outFile.toFile(), true);
      } else {
        sink = null;
      }
      PrintWriter out = spec.commandLine().getOut();
      AtomicInteger received = new AtomicInteger();
      CountDownLatch done = new CountDownLatch(1);
      long deadline = timeout == null ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.SECONDS.toNanos(timeout);
      boolean background = "1".equals(System.getenv(dev.tether.protocol.Protocol.ENV_LAUNCHED_IN_BACKGROUND));
      boolean connectedOnce = false;
      boolean toldWaiting = false;
      while (System.nanoTime() < deadline && done.getCount() > 0) {
        Tether t;
        try {
          t = Tether.connect(app, TetherOptions.defaults().home(root(spec).home()).startDaemon(!background && !connectedOnce));
          connectedOnce = true;
        } catch (TetherException e) {
          if (e.code() != ErrorCode.DAEMON_UNAVAILABLE) {
            throw e;
          }
          if (!toldWaiting && !background) {
            // it waits for tetherd (managed elsewhere, or restarting): say so once rather than hang in silence
            toldWaiting = true;
            spec.commandLine().getErr().println("tether: " + e.getMessage() + "; waiting for it"
                + (timeout == null ? "" : " (at most " + timeout + " s)"));
            spec.commandLine().getErr().flush();
          }
          Thread.sleep(200);
          continue;
        }
        Tether conn = t;
        try (t) {
          CountDownLatch lost = new CountDownLatch(1);
          TetherAccess.client(t).onClose(lost::countDown);
          ConnectivitySession s = t.connectivity(new ConnectivityDelegate() {
            @Override
            public void userInfoReceived(ConnectivitySession session, Map<String, Object> userInfo) {
              emit("userInfo", userInfo, null);
            }

            @Override
            public void applicationContextReceived(ConnectivitySession session, Map<String, Object> context) {
              emit("applicationContext", context, null);
            }

            @Override
            public void fileReceived(ConnectivitySession session, ReceivedFile file) {
              emit("file", file.metadata(), file);
            }

            @Override
            public void messageReceived(ConnectivitySession session, Map<String, Object> message) {
              ObjectNode line = Json.object();
              line.put("kind", "message");
              line.set("payload", PropertyList.toPlainJson(message));
              live(line);
            }

            @Override
            public void messageDataReceived(ConnectivitySession session, byte[] data) {
              ObjectNode line = Json.object();
              line.put("kind", "messageData");
              line.put("data", java.util.Base64.getEncoder().encodeToString(data));
              live(line);
            }

            /** A live message: not stored, so never delivered twice, and without an id; the reply is empty. */
            private void live(ObjectNode line) {
              write(Json.write(line) + "\n");
            }

            /**
             * Ends this receive without acknowledging the delivery being handled: a delegate that returned (or threw)
             * would acknowledge it, and tetherd would delete what was never written or kept.
             */
            private void stop(TetherException why) {
              failure.compareAndSet(null, why);
              TetherAccess.client(conn).close();
              done.countDown();
            }

            private void write(String text) {
              if (failure.get() != null) {
                return;
              }
              if (sink != null) {
                try {
                  sink.write(text.getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                  stop(new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot write " + outFile + " (" + Main.describe(e)
                      + "); what was not written was not acknowledged and comes again to the next receive"));
                  return;
                }
              } else {
                out.print(text);
                out.flush();
              }
              if (count != null && received.incrementAndGet() >= count) {
                done.countDown();
              } else if (count == null) {
                received.incrementAndGet();
              }
            }

            private void emit(String kind, Map<String, Object> payload, ReceivedFile file) {
              ObjectNode d = ConnectivitySessionImpl.currentDelivery();
              String id = d.path("id").asText();
              if (written.contains(id)) {
                return;
              }
              ObjectNode line = Json.object();
              line.put("kind", kind);
              line.put("id", id);
              if (d.path("complication").asBoolean()) {
                line.put("complication", true);
              }
              if (d.path("redelivered").asBoolean()) {
                line.put("redelivered", true);
              }
              if (file != null) {
                line.set("metadata", PropertyList.toPlainJson(payload));
                line.put("size", file.size());
                line.put("sha256", file.sha256());
                Path p = file.path();
                if (filesDir != null) {
                  try {
                    Files.createDirectories(filesDir);
                    p = Files.move(file.path(), filesDir.resolve(file.path().getFileName()), StandardCopyOption.REPLACE_EXISTING);
                  } catch (IOException e) {
                    stop(new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot move " + file.path() + " to " + filesDir
                        + " (" + Main.describe(e) + "); it was not acknowledged and comes again to the next receive"));
                    return;
                  }
                }
                line.put("path", p.toString());
              }
              String text;
              if (file == null && d.get("payload") != null && !d.get("payload").isNull()) {
                // the line as Json.write would give it, with the payload converted straight from its encoded form
                text = PropertyList.plainTextWith(line, "payload", d.get("payload")) + "\n";
              } else {
                if (file == null) {
                  line.set("payload", PropertyList.toPlainJson(payload));
                }
                text = Json.write(line) + "\n";
              }
              if (failure.get() != null) {
                return;
              }
              write(text);
              if (failure.get() == null) {
                written.add(id);
              }
            }
          });
          s.complicationEnabled(complication);
          if (t.launchedInBackground()) {
            // launched by tetherd for a connectivity task: complete it once the session is activated and drained
            t.onTask(dev.tether.ConnectivityTask.class, task -> s.activate().thenCompose(st -> s.drained()));
            try {
              t.awaitTasks();
            } catch (TetherException e) {
              if (failure.get() == null) {
                throw e;
              }
            }
            break;
          }
          ActivationState st = s.activate().get(60, TimeUnit.SECONDS);
          if (st != ActivationState.ACTIVATED) {
            throw new TetherException(ErrorCode.SESSION_NOT_ACTIVATED, "the session did not activate: " + st);
          }
          while (System.nanoTime() < deadline && done.getCount() > 0 && lost.getCount() > 0) {
            long waitNanos = Math.min(TimeUnit.MILLISECONDS.toNanos(200), deadline - System.nanoTime());
            if (done.await(Math.max(1, waitNanos), TimeUnit.NANOSECONDS)) {
              break;
            }
          }
          if (done.getCount() == 0) {
            s.drained().get(10, TimeUnit.SECONDS);
          }
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
          if (done.getCount() == 0) {
            break;
          }
          Throwable cause = e.getCause() == null ? e : e.getCause();
          if (cause instanceof TetherException te && te.code() != ErrorCode.DAEMON_UNAVAILABLE) {
            throw te;
          }
          spec.commandLine().getErr().println("tether: " + cause + "; retrying");
          Thread.sleep(200);
        }
      }
      if (sink != null) {
        sink.close();
      }
      if (failure.get() != null) {
        throw failure.get();
      }
      if (!connectedOnce && !background) {
        throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "tetherd for home " + root(spec).home()
            + " did not come up within " + timeout + " s (--timeout); start it with 'tether --home " + root(spec).home()
            + " daemon start'");
      }
      if (count != null && received.get() < count && !background) {
        spec.commandLine().getErr().println("tether: received " + received.get() + " of " + count
            + " deliveries within " + timeout + " s (--timeout); what did not arrive stays queued for the next receive");
        return 1;
      }
      return 0;
    }

    private static void truncatePartialLine(Path file) throws IOException {
      byte[] all = Files.readAllBytes(file);
      int end = all.length;
      while (end > 0 && all[end - 1] != '\n') {
        end--;
      }
      if (end != all.length) {
        try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
          ch.truncate(end);
        }
      }
    }
  }

  /** Small helper so join failures read as TetherExceptions. */
  static final class Store {
    private Store() {}

    static ObjectNode join(CompletableFuture<ObjectNode> f) {
      try {
        return f.join();
      } catch (java.util.concurrent.CompletionException e) {
        if (e.getCause() instanceof TetherException te) {
          throw te;
        }
        throw e;
      }
    }
  }
}
