package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferPush;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;

/**
 * Runs on the transfer events thread ({@code tether-transfer-events}); other threads hand it work with
 * {@link #schedulePump} and {@link #pushProgress}. Pushes each session's committed events, in order, to every
 * connection that has the session open ({@link TransferPush#EVENTS}, or {@link TransferPush#EVENT} each for a client
 * that did not ask for batches), and live progress. Who has a session open is a concurrent map: reader threads open
 * and close, this thread reads.
 */
final class EventPump {
  static final int PUMP_BATCH = 500;
  /** A {@code transfer.events} frame stops growing past this much event text (far below the frame limit). */
  static final int PUMP_BATCH_CHARS = 1 << 20;

  /** A connection that has a session open, and the last event sequence number pushed to it (this thread's). */
  private static final class Opener {
    final ClientConnection conn;
    /** It asked for {@code transfer.events} frames (many events each) rather than one {@code transfer.event} each. */
    final boolean batches;
    long lastPushed;

    Opener(ClientConnection conn, boolean batches) {
      this.conn = conn;
      this.batches = batches;
    }
  }

  private final TransferStore store;
  private final ExecutorService events = Threads.serial("tether-transfer-events");
  private final Map<SessionKey, Map<Long, Opener>> openers = new ConcurrentHashMap<>();
  private final Set<SessionKey> pumpsPending = ConcurrentHashMap.newKeySet();

  EventPump(TransferStore store) {
    this.store = store;
  }

  /** {@code conn} opened the session: events not acknowledged yet are pushed to it from the first. */
  void open(SessionKey key, ClientConnection conn, boolean batches) {
    openers.computeIfAbsent(key, k -> new ConcurrentHashMap<>()).put(conn.id(), new Opener(conn, batches));
  }

  /** {@code conn} closed the session. */
  void close(SessionKey key, long connectionId) {
    Map<Long, Opener> m = openers.get(key);
    if (m != null) {
      m.remove(connectionId);
    }
  }

  /** The connection went away: it has no session open any more. */
  void closed(ClientConnection connection) {
    for (Map<Long, Opener> m : openers.values()) {
      m.remove(connection.id());
    }
  }

  /** Whether some connection has the session open. */
  boolean isOpen(SessionKey key) {
    Map<Long, Opener> m = openers.get(key);
    return m != null && !m.isEmpty();
  }

  /**
   * Has the events thread pump {@code key} once more, unless a pump of it is already waiting there: that one reads
   * every event committed before it starts, so a burst of commits and acknowledgements costs one pump, not one each.
   */
  void schedulePump(SessionKey key) {
    if (pumpsPending.add(key)) {
      events.execute(() -> {
        pumpsPending.remove(key);
        pump(key);
      });
    }
  }

  /**
   * Pushes {@code transfer.progress} to the session's openers, if any, on the events thread; {@code progress} makes
   * the body there (null: nothing to say any more).
   */
  void pushProgress(SessionKey key, Supplier<ObjectNode> progress) {
    Map<Long, Opener> m = openers.get(key);
    if (m == null || m.isEmpty()) {
      return;
    }
    events.execute(() -> {
      ObjectNode o = progress.get();
      if (o == null) {
        return;
      }
      for (Opener op : m.values()) {
        op.conn.push(TransferPush.PROGRESS, o);
      }
    });
  }

  /** Pushes every committed event each opener has not been sent yet, in sequence order. Runs on the events thread. */
  private void pump(SessionKey key) {
    Map<Long, Opener> m = openers.get(key);
    if (m == null || m.isEmpty()) {
      return;
    }
    for (Opener op : m.values()) {
      if (!op.conn.isOpen()) {
        m.remove(op.conn.id());
        continue;
      }
      while (true) {
        long after = op.lastPushed;
        boolean more = op.batches ? pushBatch(key, op, after) : pushEach(key, op, after) == PUMP_BATCH;
        if (!more) {
          break;
        }
      }
    }
  }

  /**
   * Pushes the next events after {@code after} as one {@code transfer.event} frame each (for clients that did not ask
   * for batches); returns how many.
   */
  private int pushEach(SessionKey key, Opener op, long after) {
    List<ObjectNode> batch = new ArrayList<>();
    store.readEvents(key, after, PUMP_BATCH, (seq, type, body) -> {
      ObjectNode o = Json.parseObject(body);
      o.put("session", key.id());
      o.put("seq", seq);
      o.put("type", type);
      return batch.add(o);
    });
    for (ObjectNode o : batch) {
      op.conn.push(TransferPush.EVENT, o);
      op.lastPushed = o.get("seq").asLong();
    }
    return batch.size();
  }

  /**
   * Pushes the next events after {@code after} in one {@code transfer.events} frame, {@code {"session", "events":
   * [EVENT...]}}, each EVENT the stored body with its {@code seq} and {@code type} put in front (text spliced, not
   * parsed and written again), at most {@value #PUMP_BATCH} events or about {@value #PUMP_BATCH_CHARS} characters;
   * returns whether more may be waiting.
   */
  private boolean pushBatch(SessionKey key, Opener op, long after) {
    long[] last = {after};
    long[] chars = {0};
    ArrayNode events = Json.array();
    store.readEvents(key, after, PUMP_BATCH, (seq, type, body) -> {
      String text = eventText(seq, type, body);
      events.add(Json.raw(text));
      last[0] = seq;
      chars[0] += text.length();
      return chars[0] < PUMP_BATCH_CHARS; // past it, the rest goes in the next frame
    });
    boolean more = events.size() == PUMP_BATCH || chars[0] >= PUMP_BATCH_CHARS;
    if (!events.isEmpty()) {
      ObjectNode o = Json.object();
      o.put("session", key.id());
      o.set("events", events);
      op.conn.push(TransferPush.EVENTS, o);
      op.lastPushed = last[0];
    }
    return more;
  }

  /** A stored event body (a JSON object's text) with {@code seq} and {@code type} in front. */
  static String eventText(long seq, String type, String body) {
    StringBuilder b = new StringBuilder(body.length() + 40).append("{\"seq\":").append(seq).append(",\"type\":");
    if (type.chars().allMatch(ch -> ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z')) {
      b.append('"').append(type).append('"'); // every event type is a plain name
    } else {
      b.append(Json.write(com.fasterxml.jackson.databind.node.TextNode.valueOf(type)));
    }
    String rest = body.strip();
    if (!rest.startsWith("{") || !rest.endsWith("}")) {
      throw new IllegalStateException("stored event " + seq + " is not a JSON object");
    }
    rest = rest.substring(1).strip();
    return b.append(rest.equals("}") ? "" : ",").append(rest).toString();
  }

  void close() {
    events.shutdown();
  }
}
