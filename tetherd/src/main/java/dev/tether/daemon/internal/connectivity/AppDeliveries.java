package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityPush;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the connectivity executor ({@code tether-connectivity}), which alone holds each app's delivery state;
 * IPC readers hand it acknowledgements ({@link #ack}). Delivers each app's inbox, in order, to its newest session
 * ({@code cx.deliveries}, at most {@code APP_WINDOW} rows unacknowledged) and deletes a row (and its received file)
 * only when the app acknowledged it after its delegate returned.
 */
final class AppDeliveries {
  private static final Logger log = LoggerFactory.getLogger(AppDeliveries.class);
  /** Upper bound of one multi-item frame's payloads, far below the frame codec's 16 MiB limit. */
  private static final int BATCH_BYTES = 4 * 1024 * 1024;

  private final InboxStore inbox;
  private final ExecutorService exec;
  private final Consumer<String> drained;

  /** {@code drained} runs on {@code exec} when an app has acknowledged everything it had. */
  AppDeliveries(Store store, InboxStore inbox, ExecutorService exec, Consumer<String> drained) {
    this.inbox = inbox;
    this.exec = exec;
    this.drained = drained;
    this.ackWriter = new GroupWriter<>(store, this::deleteAcked);
  }

  /** {@code c} is the app's newest session: deliveries go to it, what was in flight elsewhere is delivered again. */
  void activated(String app, ClientConnection c) {
    AppDelivery d = deliveries.computeIfAbsent(app, k -> new AppDelivery());
    if (d.target != c) {
      retarget(d, c);
    }
  }

  /** {@code c}'s session closed; {@code next} (the app's newest open session, or null) gets the deliveries. */
  void closed(ClientConnection c, ClientConnection next) {
    AppDelivery d = deliveries.get(c.appId());
    if (d != null && d.target == c) {
      d.redelivered.addAll(d.inFlight);
      d.inFlight.clear();
      d.target = null;
      if (next != null) {
        retarget(d, next);
        pump(c.appId());
      }
    }
  }

  /** The app's sessions ended (the paired device changed): what was in flight is delivered again later. */
  void detach(String app) {
    AppDelivery d = deliveries.get(app);
    if (d != null) {
      d.redelivered.addAll(d.inFlight);
      d.inFlight.clear();
      d.target = null;
    }
  }

  /** A context replaced by a newer one must not hold the window. */
  void contextReplaced(String app) {
    AppDelivery d = deliveries.get(app);
    if (d != null) {
      d.inFlight.removeIf(seq -> !inbox.exists(seq));
    }
  }

  /** {@code cx.ack}: the inbox rows the app's delegate handled. */
  record AckRequest(List<Long> seqs) {
    static AckRequest parse(ObjectNode b) {
      List<Long> seqs = new ArrayList<>();
      b.path("seqs").forEach(n -> seqs.add(n.asLong()));
      return new AckRequest(seqs);
    }
  }

  private <T> CompletableFuture<T> onExec(Callable<T> work) {
    return dev.tether.daemon.internal.Threads.on(exec, work);
  }

  private static final int APP_WINDOW = 4096;

  private final Map<String, AppDelivery> deliveries = new HashMap<>();

  private final GroupWriter<AppAck, Void> ackWriter;

  /** An app's acknowledgement of inbox rows; only its own rows are deleted. */
  record AppAck(String app, long[] seqs) {}

  /** Where an app's deliveries stand. */
  private static final class AppDelivery {
    ClientConnection target;
    long cursor;
    final Set<Long> inFlight = new HashSet<>();
    final Set<Long> acking = new HashSet<>();
    final Set<Long> redelivered = new HashSet<>();
  }

  private void retarget(AppDelivery d, ClientConnection c) {
    d.redelivered.addAll(d.inFlight);
    d.inFlight.clear();
    d.target = c;
    d.cursor = 0;
  }

  boolean anyPending(String app) {
    return inbox.anyPending(app);
  }

  /** Pushes the app's next rows to its session, as far as the window allows. */
  void pump(String app) {
    AppDelivery d = deliveries.get(app);
    if (d == null || d.target == null || !d.target.isOpen()) {
      return;
    }
    int room = APP_WINDOW - d.inFlight.size() - d.acking.size();
    if (room <= 0) {
      return;
    }
    long from = d.cursor;
    List<ObjectNode> rows = inbox.page(app, from, room);
    ArrayNode batch = Json.array();
    int bytes = 0;
    for (ObjectNode o : rows) {
      long seq = o.path("seq").asLong();
      d.cursor = seq;
      if (d.acking.contains(seq) || !d.inFlight.add(seq)) {
        continue;
      }
      if (d.redelivered.contains(seq)) {
        o.put("redelivered", true);
      }
      int size = o.path("size_").asInt();
      o.remove("size_");
      if (!batch.isEmpty() && (batch.size() == 256 || bytes + size > BATCH_BYTES)) {
        pushDeliveries(d.target, batch);
        batch = Json.array();
        bytes = 0;
      }
      batch.add(o);
      bytes += size;
    }
    if (!batch.isEmpty()) {
      pushDeliveries(d.target, batch);
    }
  }

  private static void pushDeliveries(ClientConnection c, ArrayNode batch) {
    ObjectNode b = Json.object();
    b.set("items", batch);
    c.push(ConnectivityPush.DELIVERIES, b);
  }

  /** {@code cx.ack}: the app's delegate handled these rows; deleted, then the next are pushed. On the IPC reader. */
  CompletableFuture<ObjectNode> ack(ClientConnection c, AckRequest req) {
    String app = c.appId();
    List<Long> seqs = req.seqs();
    CompletableFuture<Void> marked = onExec(() -> {
      AppDelivery d = deliveries.get(app);
      if (d != null) {
        for (long s : seqs) {
          d.inFlight.remove(s);
          d.acking.add(s);
        }
      }
      return null;
    });
    long[] arr = seqs.stream().mapToLong(Long::longValue).toArray();
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    parts.add(marked.thenCompose(x -> ackDurably(new AppAck(app, arr))));
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenCompose(x -> onExec(() -> {
      AppDelivery d = deliveries.get(app);
      if (d != null) {
        for (long s : seqs) {
          d.acking.remove(s);
          d.redelivered.remove(s);
        }
      }
      pump(app);
      boolean pending = anyPending(app);
      if (!pending) {
        drained.accept(app);
      }
      ObjectNode r = Json.object();
      r.put("pending", pending ? 1 : 0);
      return r;
    }));
  }

  /**
   * Records an app's acknowledgement. When the disk is full it is retried every second until it is recorded: the
   * deliveries stay marked as acknowledged meanwhile (never delivered again while this daemon runs), and the app's
   * request is answered once it is recorded.
   */
  private CompletableFuture<Void> ackDurably(AppAck ack) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    ackAttempt(ack, done, 0);
    return done;
  }

  private void ackAttempt(AppAck ack, CompletableFuture<Void> done, int attempt) {
    ackWriter.add(ack).whenComplete((r, failure) -> {
      if (failure == null) {
        if (attempt > 0) {
          log.info("recorded {}'s acknowledgement of {} deliveries after {} retries", ack.app(), ack.seqs().length, attempt);
        }
        done.complete(null);
      } else if (Disk.insufficientSpace(failure) != null && !exec.isShutdown()) {
        if (attempt == 0) {
          log.warn("cannot record {}'s acknowledgement of {} deliveries now ({}); retrying every second",
              ack.app(), ack.seqs().length, Disk.insufficientSpace(failure).getMessage());
        }
        retryTimer().schedule(() -> exec.execute(() -> ackAttempt(ack, done, attempt + 1)), 1, TimeUnit.SECONDS);
      } else {
        done.completeExceptionally(failure);
      }
    });
  }

  private java.util.concurrent.ScheduledExecutorService retryTimer;

  /** The timer of acknowledgements that could not be recorded yet (a full disk); made on the first one. */
  private synchronized java.util.concurrent.ScheduledExecutorService retryTimer() {
    if (retryTimer == null) {
      retryTimer = dev.tether.daemon.internal.Threads.timer("tether-cx-ack-retry");
    }
    return retryTimer;
  }

  private List<Void> deleteAcked(Connection conn, List<AppAck> acks) throws SQLException {
    List<String> files = new ArrayList<>();
    for (AppAck ack : acks) {
      inbox.delete(conn, ack.app(), ack.seqs(), files);
    }
    if (!files.isEmpty()) {
      exec.execute(() -> {
        for (String f : files) {
          Path p = Path.of(f);
          Disk.deleteQuietly(p);
          Disk.deleteQuietly(p.getParent());
        }
      });
    }
    List<Void> r = new ArrayList<>(acks.size());
    for (int i = 0; i < acks.size(); i++) {
      r.add(null);
    }
    return r;
  }
}
