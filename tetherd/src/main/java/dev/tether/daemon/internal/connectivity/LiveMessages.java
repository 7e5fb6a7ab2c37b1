package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.link.LinkManager;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Frame;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import dev.tether.protocol.wire.ConnectivityFrame;
import dev.tether.protocol.wire.ConnectivityPush;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the IPC and link reader threads and the clock's timer; a received message is handed to the connectivity
 * executor. Live messages ({@code cx.message}, {@code cx.reply}, peer frames {@code msg} and {@code msg.reply}): sent
 * at once over the link, never stored. A message to the primary's app that is not running wakes it and is held until
 * it activates ({@link #activated}) or its sender's timeout.
 */
final class LiveMessages {
  private static final Logger log = LoggerFactory.getLogger(LiveMessages.class);

  private final DaemonContext context;
  private final LinkManager links;
  private final CounterpartApps counterpart;
  private final Sessions sessions;
  private final BiConsumer<String, String> wake;
  /** Messages sent, waiting for their reply, and the link each went out on: when it drops, the sender is told at once. */
  private final Map<String, CompletableFuture<ObjectNode>> pendingMessages = new ConcurrentHashMap<>();
  private final Map<String, PeerLink> pendingMessageLinks = new ConcurrentHashMap<>();
  /** Messages received, waiting for their app's reply: the link to answer on, and the app. */
  private final Map<String, PeerLink> messageOrigins = new ConcurrentHashMap<>();
  private final Map<String, String> messageApps = new ConcurrentHashMap<>();
  /** Messages held for an app that is not running (primary side), until it activates. */
  private final Map<String, List<Frame>> heldMessages = new ConcurrentHashMap<>();

  /** {@code wake} asks for the app to be launched, with the reason. */
  LiveMessages(DaemonContext context, LinkManager links, CounterpartApps counterpart, Sessions sessions,
               BiConsumer<String, String> wake) {
    this.context = context;
    this.links = links;
    this.counterpart = counterpart;
    this.sessions = sessions;
    this.wake = wake;
  }

  /** The app activated a session: the messages held for it are delivered. On the connectivity executor. */
  void activated(String app) {
    List<Frame> held = heldMessages.remove(app);
    if (held != null) {
      for (Frame f : held) {
        deliverMessage(app, f);
      }
    }
  }

  /** The peer answered a message ({@code msg.reply}); on the link's reader. */
  void replied(Frame f) {
    pendingMessageLinks.remove(f.text("mid"));
    CompletableFuture<ObjectNode> p = pendingMessages.remove(f.text("mid"));
    if (p != null) {
      if (f.body().hasNonNull("error")) {
        ErrorCode code = ErrorCode.valueOf(f.body().path("code").asText("MESSAGE_REPLY_FAILED"));
        p.completeExceptionally(new TetherException(code, f.text("error")));
      } else {
        p.complete(f.body());
      }
    }
  }

  /** The link dropped: messages received on it cannot be answered, and those sent on it fail at once. */
  void linkDown(PeerLink link) {
    for (Map.Entry<String, PeerLink> e : messageOrigins.entrySet()) {
      if (e.getValue() == link) {
        messageOrigins.remove(e.getKey());
      }
    }
    for (Map.Entry<String, PeerLink> e : pendingMessageLinks.entrySet()) {
      if (e.getValue() == link && pendingMessageLinks.remove(e.getKey(), link)) {
        CompletableFuture<ObjectNode> p = pendingMessages.remove(e.getKey());
        if (p != null) {
          p.completeExceptionally(new TetherException(ErrorCode.NOT_REACHABLE, "the link to the paired device dropped before it"
              + " answered the message (it may or may not have reached the counterpart app); send it again once reachable"));
        }
      }
    }
  }

  /**
   * {@code cx.message}: the body, forwarded as the {@code msg} frame (with its {@code mid} and {@code app}), and what
   * the daemon reads of it; the payload is checked after pairing and reachability, in that order.
   */
  record SendRequest(ObjectNode message, boolean hasPayload, String data, long timeoutMillis, boolean replyExpected) {
    static SendRequest parse(ObjectNode b) {
      return new SendRequest(b, b.has("payload"), b.path("data").asText(""), b.path("timeoutMillis").asLong(30_000),
          b.path("replyExpected").asBoolean(true));
    }
  }

  /** {@code cx.reply}: the message answered, and the reply's error, payload or data (null when absent). */
  record ReplyRequest(String mid, String error, JsonNode payload, JsonNode data) {
    static ReplyRequest parse(ObjectNode b) {
      return new ReplyRequest(b.path("mid").asText(), b.hasNonNull("error") ? b.path("error").asText() : null,
          b.get("payload"), b.get("data"));
    }
  }

  /** {@code cx.message}: sends it at once over the link; completes with the reply. On the IPC reader. */
  CompletableFuture<ObjectNode> send(ClientConnection c, SendRequest req) {
    ObjectNode b = req.message();
    String app = c.appId();
    Peer cp = links.counterpart().orElseThrow(() -> new TetherException(ErrorCode.DEVICE_NOT_PAIRED,
        "this device is not paired; pair it with 'tether pair listen' and 'tether pair connect'"));
    PeerLink link = links.link(cp.fingerprint()).orElseThrow(() -> new TetherException(ErrorCode.NOT_REACHABLE,
        "the paired device is not connected"));
    boolean wakesCounterpart = cp.role().equals("primary");
    if (!wakesCounterpart && !counterpart.running(app)) {
      throw new TetherException(ErrorCode.NOT_REACHABLE, "the counterpart app " + app + " is not running on the paired device");
    }
    if (req.hasPayload()) {
      Payloads.checked(b, PropertyList.MAX_MESSAGE_BYTES, "message");
    } else if (req.data().length() > PropertyList.MAX_MESSAGE_BYTES * 4 / 3 + 4) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, "message data is larger than " + PropertyList.MAX_MESSAGE_BYTES + " bytes");
    }
    String mid = TransferIds.next();
    ObjectNode m = b.deepCopy();
    m.put("mid", mid);
    m.put("app", app);
    long timeout = req.timeoutMillis();
    boolean replyExpected = req.replyExpected();
    CompletableFuture<ObjectNode> reply = new CompletableFuture<>();
    pendingMessages.put(mid, reply);
    pendingMessageLinks.put(mid, link);
    context.clock().schedule(context.clock().now().plusMillis(timeout), () -> {
      pendingMessageLinks.remove(mid);
      CompletableFuture<ObjectNode> p = pendingMessages.remove(mid);
      if (p != null) {
        p.completeExceptionally(replyExpected
            ? new TetherException(ErrorCode.MESSAGE_REPLY_TIMED_OUT, "no reply from the counterpart within " + timeout + " ms")
            : new TetherException(ErrorCode.TRANSFER_TIMED_OUT, "the counterpart app did not take the message within " + timeout
                + " ms (its delegate may be busy or stuck); it may still handle it"));
      }
    });
    link.send(ConnectivityFrame.MSG, m);
    return reply.thenApply(r -> {
      ObjectNode o = Json.object();
      if (r.has("payload")) {
        o.set("payload", r.get("payload"));
      }
      if (r.has("data")) {
        o.set("data", r.get("data"));
      }
      return o;
    });
  }

  /** A message from the peer; on the connectivity executor. */
  void receive(PeerLink link, Frame f) {
    String app = f.text("app");
    messageOrigins.put(f.text("mid"), link);
    messageApps.put(f.text("mid"), app);
    if (sessions.current(app) != null) {
      deliverMessage(app, f);
      return;
    }
    if (links.localRole().equals("primary")) {
      heldMessages.compute(app, (k, list) -> {
        List<Frame> l = list == null ? new ArrayList<>() : list;
        l.add(f);
        return l;
      });
      wake.accept(app, "a live message from the paired device");
      // an app tetherd will not launch gets no message: say why now rather than let the sender time out
      try {
        context.backgroundWork().launchRefusal(app).thenAccept(why -> why.ifPresent(w -> {
          if (unhold(app, f)) {
            replyError(f.text("mid"), ErrorCode.NOT_REACHABLE, "the app " + app + " is not running on the paired device and"
                + " will not be launched: " + w);
          }
        }));
      } catch (IllegalStateException e) {
        log.info("cannot ask whether {} may be launched: {}", app, e.getMessage());
      }
      // the sender gives up after its timeout: a message held longer would reach the app after its sender was told it failed
      long timeout = f.body().path("timeoutMillis").asLong(30_000);
      context.clock().schedule(context.clock().now().plusMillis(timeout), () -> unhold(app, f));
      return;
    }
    replyError(f.text("mid"), ErrorCode.NOT_REACHABLE, "the app " + app + " is not running on the paired device");
  }

  /** Removes a message held for an app that is not running; false when it was delivered (or dropped) already. */
  private boolean unhold(String app, Frame f) {
    boolean[] removed = {false};
    heldMessages.computeIfPresent(app, (k, list) -> {
      removed[0] = list.remove(f);
      return list.isEmpty() ? null : list;
    });
    return removed[0];
  }

  private void deliverMessage(String app, Frame f) {
    ClientConnection c = sessions.current(app);
    if (c == null) {
      replyError(f.text("mid"), ErrorCode.NOT_REACHABLE, "the app " + app + " is not running on the paired device");
      return;
    }
    ObjectNode m = Json.object();
    m.put("mid", f.text("mid"));
    if (f.body().has("payload")) {
      m.set("payload", f.body().get("payload"));
    }
    if (f.body().has("data")) {
      m.set("data", f.body().get("data"));
    }
    m.put("replyExpected", f.body().path("replyExpected").asBoolean());
    c.push(ConnectivityPush.MESSAGE, m);
  }

  private void replyError(String mid, ErrorCode code, String message) {
    messageApps.remove(mid);
    PeerLink l = messageOrigins.remove(mid);
    if (l != null) {
      ObjectNode r = Json.object();
      r.put("mid", mid);
      r.put("error", message);
      r.put("code", code.name());
      l.send(ConnectivityFrame.MSG_REPLY, r);
    }
  }

  /** {@code cx.reply}: the app answers a message it received. On the IPC reader. */
  CompletableFuture<ObjectNode> reply(ClientConnection c, ReplyRequest req) {
    String mid = req.mid();
    if (!c.appId().equals(messageApps.get(mid))) {
      throw new TetherException(ErrorCode.MESSAGE_REPLY_FAILED, "no message " + mid + " is waiting for a reply from " + c.appId());
    }
    messageApps.remove(mid);
    if (req.error() != null) {
      replyError(mid, ErrorCode.MESSAGE_REPLY_FAILED, req.error());
      return CompletableFuture.completedFuture(Json.object());
    }
    PeerLink l = messageOrigins.remove(mid);
    if (l == null) {
      throw new TetherException(ErrorCode.MESSAGE_REPLY_FAILED, "the sender of message " + mid + " is no longer connected");
    }
    ObjectNode r = Json.object();
    r.put("mid", mid);
    if (req.payload() != null) {
      Payloads.checked(Payloads.withPayload(req.payload()), PropertyList.MAX_MESSAGE_BYTES, "reply");
      r.set("payload", req.payload());
    }
    if (req.data() != null) {
      r.set("data", req.data());
    }
    l.send(ConnectivityFrame.MSG_REPLY, r);
    return CompletableFuture.completedFuture(Json.object());
  }
}
