package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityFrame;
import dev.tether.protocol.wire.ConnectivityPush;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on two threads of its own per link ({@code tether-cx-send-*} for items and contexts, {@code tether-cx-files-*}
 * for files); link readers hand it acknowledgements, refusals and resume offsets through its methods, under its locks.
 * Sends one link's share of the outbox: complication user info first, then user info in order, then the newest unsent
 * application context per app; and files one after another.
 */
final class Sender {
  private static final Logger log = LoggerFactory.getLogger(Sender.class);
  /** Items sent and not yet acknowledged, at most. */
  private static final int PEER_WINDOW = 8192;
  /** Upper bound of one multi-item frame's payloads, far below the frame codec's 16 MiB limit. */
  private static final int BATCH_BYTES = 4 * 1024 * 1024;
  /** File chunks are sent in slices of this size. */
  private static final int CHUNK = 1024 * 1024;

  final PeerLink link;
  private final OutboxStore outbox;
  private final ContextStore contexts;
  private final Sessions sessions;
  private final OutgoingStates files;
  final Object lock = new Object();
  final Object fileLock = new Object();
  boolean fileWoken = true;
  final Set<Long> inFlight = new HashSet<>();
  long cursor;
  long complicationCursor;
  boolean woken = true;
  volatile boolean stopped;
  final Map<String, CompletableFuture<Long>> resumes = new ConcurrentHashMap<>();
  final Map<Long, CompletableFuture<Void>> fileAcks = new ConcurrentHashMap<>();
  final Map<String, ObjectNode> refusals = new ConcurrentHashMap<>();
  int refusedInARow;
  /** User info refused by the receiver for now (guarded by lock): no items before then, resent from the refused. */
  long itemsPausedUntil;
  boolean retryItems;
  int itemRefusalsInARow;
  /** Counts the times a refusal moved the cursors back, so that a page being sent does not move them forward again. */
  int rewinds;

  /** Sends on {@code link} from the outbox and the unsent contexts; tells the apps' sessions of progress and refusals. */
  Sender(PeerLink link, OutboxStore outbox, ContextStore contexts, Sessions sessions, OutgoingStates files) {
    this.link = link;
    this.outbox = outbox;
    this.contexts = contexts;
    this.sessions = sessions;
    this.files = files;
  }

  void start() {
    Threads.start("tether-cx-send-" + link.peer().substring(0, 8), this::run);
    Threads.start("tether-cx-files-" + link.peer().substring(0, 8), this::runFiles);
  }

  void stop() {
    stopped = true;
    resumes.values().forEach(x -> x.cancel(false));
    fileAcks.values().forEach(x -> x.cancel(false));
    wake();
    wakeFiles();
  }

  void wakeFiles() {
    synchronized (fileLock) {
      fileWoken = true;
      fileLock.notifyAll();
    }
  }

  void wake() {
    synchronized (lock) {
      woken = true;
      lock.notifyAll();
    }
  }

  void acked(List<Long> seqs) {
    synchronized (lock) {
      seqs.forEach(inFlight::remove);
      if (!retryItems) {
        itemRefusalsInARow = 0;
      }
      lock.notifyAll();
    }
    for (long seq : seqs) {
      CompletableFuture<Void> f = fileAcks.remove(seq);
      if (f != null) {
        f.complete(null);
      }
    }
  }

  /**
   * The receiver could not store these user info items (nor will it store later ones until {@code items.retry}):
   * pause, then offer them again from the lowest refused, after 1, 2, 4, then every 5 seconds.
   */
  void itemsRefused(List<Long> seqs) {
    synchronized (lock) {
      seqs.forEach(inFlight::remove);
      long from = java.util.Collections.min(seqs) - 1;
      cursor = Math.min(cursor, from);
      complicationCursor = Math.min(complicationCursor, from);
      rewinds++;
      if (!retryItems) {
        itemRefusalsInARow++;
        long delay = Math.min(5000L, 1000L << Math.min(itemRefusalsInARow - 1, 3));
        itemsPausedUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay);
        retryItems = true;
      }
      woken = true;
      lock.notifyAll();
    }
  }

  /** The receiver cannot store file {@code id} now; the file stays queued and is offered again later. */
  void refused(String id, ObjectNode body) {
    refusals.put(id, body);
    CompletableFuture<Long> f = resumes.remove(id);
    if (f != null) {
      f.complete(-1L);
    }
  }

  void resumeAt(String id, long offset) {
    CompletableFuture<Long> f = resumes.remove(id);
    if (f != null) {
      f.complete(offset);
    }
  }

  private void run() {
    try {
      while (!stopped && link.isOpen()) {
        boolean retry;
        synchronized (lock) {
          while (!stopped) {
            long pause = retryItems ? itemsPausedUntil - System.nanoTime() : 0;
            if (pause > 0) {
              lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(pause)));
            } else if (retryItems && !inFlight.isEmpty()) {
              // every item sent before is answered (stored or refused) before any is offered again: a late
              // refusal then cannot leave a gap that later items are stored across
              lock.wait(1000);
            } else if (!retryItems && (!woken || inFlight.size() >= PEER_WINDOW)) {
              lock.wait(1000);
            } else {
              break;
            }
          }
          woken = false;
          retry = retryItems;
          retryItems = false;
        }
        if (stopped || !link.isOpen()) {
          return;
        }
        if (retry) {
          // ahead of the items on the same stream: the receiver stores user info again from here on
          link.send(ConnectivityFrame.ITEMS_RETRY, Json.object());
        }
        boolean more = sendBatch(true) | sendBatch(false);
        sendContexts();
        if (more) {
          wake();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      log.error("sending to peer {} failed; closing the link", link.peer(), e);
      link.close();
    }
  }

  /** Sends the next page of one queue; true if the page was full. */
  private boolean sendBatch(boolean complications) {
    int room;
    int rewound;
    long from;
    synchronized (lock) {
      room = PEER_WINDOW - inFlight.size();
      rewound = rewinds;
      from = complications ? complicationCursor : cursor;
    }
    if (room <= 0) {
      return false;
    }
    int limit = Math.min(room, 2000);
    List<ObjectNode> rows = outbox.itemsAfter(link.peer(), from, complications, limit);
    ArrayNode batch = Json.array();
    int bytes = 0;
    for (ObjectNode o : rows) {
      long seq = o.path("seq").asLong();
      synchronized (lock) {
        if (rewinds != rewound) {
          // a refusal moved the cursor back meanwhile: the rest is read again from there
          break;
        }
        if (complications) {
          complicationCursor = seq;
        } else {
          cursor = seq;
        }
        if (!inFlight.add(seq)) {
          continue;
        }
      }
      int size = o.path("size").asInt();
      o.remove("size");
      if (!batch.isEmpty() && (batch.size() == 256 || bytes + size > BATCH_BYTES)) {
        sendItems(batch);
        batch = Json.array();
        bytes = 0;
      }
      batch.add(o);
      bytes += size;
    }
    if (!batch.isEmpty()) {
      sendItems(batch);
    }
    return rows.size() == limit;
  }

  private void sendItems(ArrayNode batch) {
    ObjectNode f = Json.object();
    f.set("items", batch);
    link.send(ConnectivityFrame.ITEMS, f);
  }

  private void sendContexts() {
    List<ObjectNode> ctxs = contexts.unsent(link.peer());
    Map<String, String> sent = sentContexts;
    for (ObjectNode o : ctxs) {
      String key = o.path("app").asText();
      if (o.path("id").asText().equals(sent.get(key))) {
        continue;
      }
      sent.put(key, o.path("id").asText());
      link.send(ConnectivityFrame.CTX, o);
    }
  }

  final Map<String, String> sentContexts = new ConcurrentHashMap<>();

  private void runFiles() {
    try {
      long fileCursor = 0;
      while (!stopped && link.isOpen()) {
        synchronized (fileLock) {
          fileWoken = false;
        }
        long after = fileCursor;
        ObjectNode next = outbox.nextFile(link.peer(), after);
        if (next == null) {
          synchronized (fileLock) {
            while (!fileWoken && !stopped) {
              fileLock.wait(5000);
            }
            fileWoken = false;
          }
          continue;
        }
        long before = fileCursor;
        fileCursor = next.path("seq").asLong();
        if (!sendFile(next)) {
          fileCursor = before;
          waitBeforeRetry();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.CancellationException e) {
      // link closed while waiting
    } catch (Exception e) {
      if (link.isOpen()) {
        log.warn("sending a file to {} failed: {}", link.peer(), e.toString());
        link.close();
      }
    }
  }

  /** Backs off after a refusal: 1, 2, 4 then every 5 seconds, or until the link stops. */
  private void waitBeforeRetry() throws InterruptedException {
    long delay = Math.min(5000L, 1000L << Math.min(refusedInARow - 1, 3));
    long until = System.nanoTime() + delay * 1_000_000L;
    synchronized (fileLock) {
      for (long left = delay; left > 0 && !stopped && link.isOpen(); left = (until - System.nanoTime()) / 1_000_000L) {
        fileLock.wait(left);
      }
    }
  }

  /** Tells the sending app that file {@code id} is held back (not failed: it stays queued and is retried). */
  private void reportRefusal(String app, String id) {
    ObjectNode r = refusals.remove(id);
    if (r == null) {
      return;
    }
    refusedInARow++;
    ObjectNode ev = Json.object();
    ev.put("id", id);
    ev.put("kind", "file");
    ev.put("code", r.path("code").asText(ErrorCode.INSUFFICIENT_SPACE.name()));
    ev.put("error", r.path("error").asText("the paired device cannot store the file now"));
    ObjectNode previous = files.blocked.put(id, ev);
    if (previous == null || !previous.path("error").asText().equals(ev.path("error").asText())) {
      log.warn("the paired device {} refused file {} for now, keeping it queued: {}", link.peer(), id, ev.path("error").asText());
    }
    for (ClientConnection c : sessions.of(app)) {
      c.push(ConnectivityPush.BLOCKED, ev);
    }
  }

  /** Sends one file; false if the receiver refused it for now (it stays queued). */
  private boolean sendFile(ObjectNode f) throws Exception {
    String id = f.path("id").asText();
    long seq = f.path("seq").asLong();
    long size = f.path("size").asLong();
    String app = f.path("app").asText();
    CompletableFuture<Long> resume = new CompletableFuture<>();
    resumes.put(id, resume);
    CompletableFuture<Void> acked = new CompletableFuture<>();
    fileAcks.put(seq, acked);
    ObjectNode offer = Json.object();
    offer.put("seq", seq);
    offer.put("id", id);
    offer.put("app", app);
    offer.put("size", size);
    offer.set("meta", f.get("meta"));
    link.send(ConnectivityFrame.FILE_OFFER, offer);
    Object first = CompletableFuture.anyOf(resume, acked).get();
    if (acked.isDone()) {
      refusedInARow = 0;
      files.blocked.remove(id);
      return true;
    }
    long offset = (Long) first;
    if (offset < 0) {
      reportRefusal(app, id);
      return false;
    }
    Path file = Path.of(f.path("file").asText());
    String sha;
    try {
      sha = OutgoingFile.send(link, file, files.captures.get(id), id, offset, size, CHUNK,
          () -> stopped || !link.isOpen() || refusals.containsKey(id) || files.cancelled.contains(id),
          sent -> progress(app, id, sent, size));
    } catch (NoSuchFileException e) {
      log.info("file transfer {} was cancelled while sending", id);
      return true;
    }
    if (sha == null) {
      if (files.cancelled.remove(id)) {
        log.info("file transfer {} was cancelled while sending; stopped", id);
        return true;
      }
      if (refusals.containsKey(id)) {
        reportRefusal(app, id);
        return false;
      }
      return true;
    }
    ObjectNode end = Json.object();
    end.put("id", id);
    end.put("sha256", sha);
    link.send(ConnectivityFrame.FILE_END, end);
    while (!acked.isDone()) {
      if (files.cancelled.remove(id)) {
        return true; // the receiver drops it (file.drop); its row is gone
      }
      if (refusals.containsKey(id)) {
        reportRefusal(app, id);
        return false;
      }
      try {
        acked.get(200, java.util.concurrent.TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        // look for a refusal again
      }
    }
    acked.get();
    refusedInARow = 0;
    files.blocked.remove(id);
    return true;
  }

  private void progress(String app, String id, long sent, long total) {
    ObjectNode p = Json.object();
    p.put("id", id);
    p.put("sent", sent);
    p.put("total", total);
    for (ClientConnection c : sessions.of(app)) {
      c.push(ConnectivityPush.PROGRESS, p);
    }
  }
}
