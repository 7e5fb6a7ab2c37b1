package dev.tether.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.DownloadTransfer;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.TetherException;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UploadTransfer;
import dev.tether.UrlSessionDelegate;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.UrlSessions;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import dev.tether.protocol.wire.TransferPush;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

/**
 * What {@code tether download} and {@code tether upload} share: open the CLI's session, create the transfers
 * (many in one request and one commit), then either print their ids
 * ({@code --detach}) or follow them to the end with a progress bar or JSON lines.
 */
final class TransferRunner {
  private final PrintWriter out;
  private final PrintWriter err;
  private final boolean json;
  private final boolean bar;
  private final Map<Long, CompletableFuture<Optional<TransferError>>> completions = new ConcurrentHashMap<>();
  private final Map<Long, long[]> bytes = new ConcurrentHashMap<>();
  /**
   * The transfers this command created. The CLI's session is shared by every {@code tether download} and
   * {@code upload}: events of other transfers in it (one still running from another terminal, or one detached
   * earlier whose events nobody took yet) reach this command's delegate too, and are not its to print or count.
   */
  private final java.util.Set<Long> mine = ConcurrentHashMap.newKeySet();
  private final long startedAt = System.nanoTime();
  /** The latest {@code retrying} snapshot of each transfer, kept for one whose push came before its id was known. */
  private final Map<Long, JsonNode> retrying = new ConcurrentHashMap<>();
  private final java.util.Set<String> retryShown = new java.util.HashSet<>();
  private volatile long lastBar;
  private volatile boolean lost;

  TransferRunner(PrintWriter out, PrintWriter err, boolean json) {
    this.out = out;
    this.err = err;
    this.json = json;
    this.bar = !json && System.console() != null;
  }

  private CompletableFuture<Optional<TransferError>> completion(long id) {
    CompletableFuture<Optional<TransferError>> f = completions.computeIfAbsent(id, k -> new CompletableFuture<>());
    if (lost) {
      f.completeExceptionally(connectionLost());
    }
    return f;
  }

  private static TetherException connectionLost() {
    return new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "the connection to tetherd was lost while waiting; its"
        + " transfers go on when it runs again: see 'tether transfers'");
  }

  /**
   * The session configuration the options describe; a value the builder refuses (such as an empty {@code --session})
   * is bad input, {@code INVALID_PARAMETER}, not a failure of the command.
   */
  static SessionConfiguration session(java.util.function.Supplier<SessionConfiguration> build) {
    try {
      return build.get();
    } catch (IllegalArgumentException e) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "--session: " + e.getMessage());
    }
  }

  /** Runs the transfers described by {@code bodies} ({@code op} is {@link TransferOp#DOWNLOAD} or {@link TransferOp#UPLOAD}). */
  int run(DaemonClient client, SessionConfiguration config, TransferOp op, List<ObjectNode> bodies, boolean detach) {
    UrlSessionDelegate delegate = new UrlSessionDelegate() {
      @Override
      public void progress(DownloadTransfer t, long done, long expected) {
        moved(t, done, expected, "progress");
      }

      @Override
      public void uploadProgress(UploadTransfer t, long done, long expected) {
        moved(t, done, expected, "uploadProgress");
      }

      @Override
      public void transferCompleted(Transfer t, Optional<TransferError> error) {
        bytes.put(t.id(), new long[] {t.bytesDone(), t.bytesExpected()});
        completion(t.id()).complete(error);
      }
    };
    new UrlSessions(client).open(config, delegate);
    client.onPush(TransferPush.PROGRESS, e -> {
      if ("retrying".equals(e.path("type").asText()) && e.path("session").asText().equals(config.identifier())) {
        JsonNode t = e.path("transfer");
        retrying.put(t.path("id").asLong(), t);
        retrying(t);
      }
    });
    client.onClose(() -> {
      lost = true;
      completions.values().forEach(f -> f.completeExceptionally(connectionLost()));
    });
    Map<Long, JsonNode> transfers = new LinkedHashMap<>();
    TetherException firstFailure = null;
    for (Object t : create(client, config, op, bodies)) {
      if (t instanceof TetherException te) {
        if (firstFailure == null) {
          firstFailure = te;
        }
        err.println("tether: " + te.getMessage() + " [" + te.code() + "]");
        continue;
      }
      JsonNode transfer = (JsonNode) t;
      transfers.put(transfer.path("id").asLong(), transfer);
      mine.add(transfer.path("id").asLong());
      JsonNode early = retrying.get(transfer.path("id").asLong());
      if (early != null) {
        retrying(early); // its first attempt failed before this command knew its id
      }
      if (json) {
        printJson("started", transfer);
      } else if (detach) {
        out.println("started transfer " + transfer.path("id").asLong() + ": " + transfer.path("url").asText()
            + (transfer.hasNonNull("destination") ? " -> " + transfer.path("destination").asText() : ""));
      }
    }
    out.flush();
    if (detach || transfers.isEmpty()) {
      return firstFailure == null ? 0 : Main.exitCode(firstFailure.code());
    }
    int failed = 0;
    ErrorCode lastCode = null;
    for (Map.Entry<Long, JsonNode> e : transfers.entrySet()) {
      Optional<TransferError> error;
      try {
        error = completion(e.getKey()).get();
      } catch (ExecutionException x) {
        clearBar();
        err.println("tether: " + x.getCause().getMessage() + " [" + ErrorCode.DAEMON_UNAVAILABLE + "]");
        err.flush();
        return Main.exitCode(ErrorCode.DAEMON_UNAVAILABLE);
      } catch (InterruptedException x) {
        Thread.currentThread().interrupt();
        return 1;
      }
      if (json) {
        ObjectNode o = Json.object();
        o.put("event", "completed");
        o.put("id", e.getKey());
        o.put("url", e.getValue().path("url").asText());
        long[] b = bytes.getOrDefault(e.getKey(), new long[] {0, -1});
        o.put("bytesDone", b[0]);
        o.put("bytesExpected", b[1]);
        if (e.getValue().hasNonNull("destination")) {
          o.put("file", e.getValue().path("destination").asText());
        }
        o.put("ok", error.isEmpty());
        error.ifPresent(er -> {
          ObjectNode eo = o.putObject("error");
          eo.put("code", er.code().name());
          eo.put("message", er.message());
        });
        out.println(Json.write(o));
        out.flush();
      }
      if (error.isPresent()) {
        failed++;
        lastCode = error.get().code();
        if (!json) {
          clearBar();
          err.println("tether: transfer " + e.getKey() + " of " + e.getValue().path("url").asText() + " failed: "
              + error.get().message() + " [" + error.get().code() + "]");
        }
      }
    }
    awaitAcknowledgements(client);
    if (!json) {
      clearBar();
      double secs = (System.nanoTime() - startedAt) / 1e9;
      long total = mine.stream().mapToLong(id -> bytes.getOrDefault(id, new long[] {0, -1})[0]).sum();
      out.printf("%d of %d transfer(s) finished, %s in %.1f s%n", transfers.size() - failed, transfers.size(), size(total), secs);
      out.flush();
      err.flush();
    }
    if (failed > 0) {
      return Main.exitCode(lastCode);
    }
    return firstFailure == null ? 0 : Main.exitCode(firstFailure.code());
  }

  /**
   * Creates the transfers: one request per transfer when there is one, else one request (one commit) for all. Returns,
   * in order, each transfer (its snapshot, or with {@code --json} off only its id merged into the request body, which
   * holds the URL and destination the output needs) or the {@link TetherException} that refused it.
   */
  private List<Object> create(DaemonClient client, SessionConfiguration config, TransferOp op, List<ObjectNode> bodies) {
    List<Object> created = new ArrayList<>(bodies.size());
    try {
      if (bodies.size() == 1) {
        bodies.get(0).put("session", config.identifier());
        created.add(client.request(op, bodies.get(0)).get());
        return created;
      }
      ObjectNode many = Json.object();
      many.put("session", config.identifier());
      // the answer lists each item's transfer or why it was refused, in order; ids only unless --json prints snapshots
      many.put("brief", !json);
      bodies.forEach(many.putArray("items")::add);
      JsonNode answer = client.request(op, many).get().path("transfers");
      for (int i = 0; i < bodies.size(); i++) {
        JsonNode t = answer.path(i);
        if (t.has("error")) {
          created.add(new TetherException(errorCode(t.path("error").path("code").asText()), t.path("error").path("message").asText()));
        } else if (json) {
          created.add(t);
        } else {
          created.add(bodies.get(i).put("id", t.path("id").asLong()));
        }
      }
    } catch (ExecutionException e) {
      created.add(e.getCause() instanceof TetherException x ? x : new TetherException(ErrorCode.GENERIC, String.valueOf(e.getCause())));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      created.add(new TetherException(ErrorCode.GENERIC, "interrupted while creating the transfers"));
    }
    return created;
  }

  private static ErrorCode errorCode(String name) {
    try {
      return ErrorCode.valueOf(name);
    } catch (IllegalArgumentException x) {
      return ErrorCode.GENERIC;
    }
  }

  /**
   * Waits until the delivery thread has sent the acknowledgements of the events handled so far (they go in bursts,
   * after the events queued before them), so that this command does not exit with events still to be delivered again.
   */
  private static void awaitAcknowledgements(DaemonClient client) {
    if (!client.isOpen()) {
      return;
    }
    CompletableFuture<Void> sent = new CompletableFuture<>();
    client.deliver(() -> client.deliver(() -> sent.complete(null)));
    try {
      sent.get(2, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
      // the transfers are done; an event not acknowledged is delivered again to the session's next opener
    }
  }

  private void moved(Transfer t, long done, long expected, String event) {
    if (!mine.contains(t.id())) {
      return;
    }
    bytes.put(t.id(), new long[] {done, expected});
    if (json) {
      ObjectNode o = Json.object();
      o.put("event", event);
      o.put("id", t.id());
      o.put("bytesDone", done);
      o.put("bytesExpected", expected);
      out.println(Json.write(o));
      out.flush();
    } else if (bar) {
      long now = System.nanoTime();
      if (now - lastBar < 200_000_000L) {
        return;
      }
      lastBar = now;
      long d = 0;
      long x = 0;
      for (Long id : mine) {
        long[] b = bytes.getOrDefault(id, new long[] {0, -1});
        d += b[0];
        x += Math.max(0, b[1]);
      }
      double secs = Math.max(0.001, (now - startedAt) / 1e9);
      int width = 30;
      int filled = x > 0 ? (int) Math.min(width, width * d / x) : 0;
      String pct = x > 0 ? String.format("%3d%%", Math.min(100, 100 * d / x)) : " ...";
      out.print("\r[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + pct + " " + size(d)
          + (x > 0 ? " of " + size(x) : "") + String.format("  %s/s   ", size((long) (d / secs))));
      out.flush();
    }
  }

  /**
   * Says on stderr why a transfer of this command waits and when it tries again, once per failed attempt (a push of
   * type {@code retrying}, sent when the daemon recorded the retry).
   */
  private void retrying(JsonNode t) {
    long id = t.path("id").asLong();
    if (!mine.contains(id) || !t.hasNonNull("lastError")) {
      return;
    }
    String next = t.path("nextAttemptAt").asText("");
    synchronized (retryShown) {
      if (!retryShown.add(id + " " + t.path("attempts").asInt() + " " + next)) {
        return;
      }
    }
    clearBar();
    String when = next.isEmpty() ? "" : "; next try at " + clock(next);
    err.println("tether: transfer " + id + " of " + t.path("url").asText() + " is waiting: " + t.path("lastError").asText() + when);
    err.flush();
  }

  /** An instant as this machine's local time of day, {@code HH:MM:SS}. */
  static String clock(String instant) {
    try {
      return java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss")
          .format(java.time.LocalTime.ofInstant(java.time.Instant.parse(instant), java.time.ZoneId.systemDefault()));
    } catch (java.time.format.DateTimeParseException e) {
      return instant;
    }
  }

  private void clearBar() {
    if (bar && lastBar != 0) {
      out.print("\r" + " ".repeat(78) + "\r");
      out.flush();
      lastBar = 0;
    }
  }

  private void printJson(String event, JsonNode transfer) {
    ObjectNode o = Json.object();
    o.put("event", event);
    o.setAll((ObjectNode) transfer);
    out.println(Json.write(o));
  }

  static String size(long b) {
    if (b < 1024) {
      return b + " B";
    }
    if (b < 1024 * 1024) {
      return String.format("%.1f KiB", b / 1024.0);
    }
    if (b < 1024L * 1024 * 1024) {
      return String.format("%.1f MiB", b / (1024.0 * 1024));
    }
    return String.format("%.2f GiB", b / (1024.0 * 1024 * 1024));
  }
}
