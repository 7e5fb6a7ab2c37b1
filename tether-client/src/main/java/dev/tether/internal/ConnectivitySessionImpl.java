package dev.tether.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ActivationState;
import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.FileTransfer;
import dev.tether.ReceivedFile;
import dev.tether.TetherException;
import dev.tether.UserInfoTransfer;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import dev.tether.protocol.wire.ConnectivityOp;
import dev.tether.protocol.wire.ConnectivityPush;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Level;
import java.util.logging.Logger;

/** The client side of {@link ConnectivitySession}: requests to tetherd and the delegate calls its pushes cause. */
public final class ConnectivitySessionImpl implements ConnectivitySession {
  private static final Logger log = Logger.getLogger(ConnectivitySessionImpl.class.getName());
  private static final ThreadLocal<ObjectNode> CURRENT = new ThreadLocal<>();

  private final DaemonClient client;
  private volatile ConnectivityDelegate delegate;
  private volatile ActivationState state = ActivationState.NOT_ACTIVATED;
  private volatile ObjectNode status = Json.object();
  private volatile Map<String, Object> applicationContext = Map.of();
  private volatile Map<String, Object> receivedApplicationContext = Map.of();
  private volatile boolean complicationEnabled;
  private volatile int daemonPending = -1;
  private volatile boolean deliveredSinceAck;
  private final List<Long> toAck = new ArrayList<>();
  private boolean flushScheduled;
  private int acksInFlight;
  private final CopyOnWriteArrayList<CompletableFuture<ConnectivitySession>> drainWaiters = new CopyOnWriteArrayList<>();
  private final Map<String, FileTransferImpl> files = new ConcurrentHashMap<>();
  private final Map<String, UserInfoTransferImpl> infos = new ConcurrentHashMap<>();

  public ConnectivitySessionImpl(DaemonClient client, ConnectivityDelegate delegate) {
    this.client = client;
    this.delegate = Objects.requireNonNull(delegate, "delegate");
    client.onPush(ConnectivityPush.DELIVERIES, b -> b.path("items").forEach(d -> delivery((ObjectNode) d)));
    client.onPush(ConnectivityPush.STATE, this::stateChanged);
    client.onPush(ConnectivityPush.FINISHED, this::finished);
    client.onPush(ConnectivityPush.PROGRESS, this::progress);
    client.onPush(ConnectivityPush.BLOCKED, this::blocked);
    client.onPush(ConnectivityPush.MESSAGE, this::message);
  }

  /** Failures tetherd kept for this app that the delegate has been told of (on the delivery thread only). */
  private final java.util.Set<Long> failuresTold = new java.util.HashSet<>();

  public void delegate(ConnectivityDelegate d) {
    this.delegate = Objects.requireNonNull(d, "delegate");
  }

  /**
   * For Tether's own tools: the delivery whose delegate call is running on this thread (its id, sequence number and
   * whether it is a redelivery after the app died before acknowledging it), or null outside a delegate call.
   */
  public static ObjectNode currentDelivery() {
    return CURRENT.get();
  }

  @Override
  public CompletableFuture<ActivationState> activate() {
    ObjectNode b = Json.object();
    b.put("complicationEnabled", complicationEnabled);
    CompletableFuture<ActivationState> result = new CompletableFuture<>();
    client.request(ConnectivityOp.ACTIVATE, b).whenComplete((s, failure) -> client.deliver(() -> {
      if (failure != null) {
        result.completeExceptionally(failure);
        return;
      }
      status = s;
      daemonPending = s.path("pending").asInt();
      applicationContext = decodeOrEmpty(s.get("applicationContext"));
      receivedApplicationContext = decodeOrEmpty(s.get("receivedApplicationContext"));
      state = ActivationState.ACTIVATED;
      call(() -> delegate.activationCompleted(this, state));
      result.complete(state);
      checkDrained();
    }));
    return result;
  }

  private static Map<String, Object> decodeOrEmpty(JsonNode n) {
    if (n == null || n.isNull()) {
      return Map.of();
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) Payloads.fromJson(n);
    return m;
  }

  private void call(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      log.log(Level.WARNING, "connectivity delegate threw", e);
    }
  }

  private void stateChanged(ObjectNode s) {
    String st = s.path("state").asText();
    if (st.equals("INACTIVE")) {
      state = ActivationState.INACTIVE;
      call(() -> delegate.sessionBecameInactive(this));
      return;
    }
    if (st.equals("NOT_ACTIVATED")) {
      state = ActivationState.NOT_ACTIVATED;
      call(() -> delegate.sessionDeactivated(this));
      return;
    }
    if (state != ActivationState.ACTIVATED) {
      return;
    }
    ObjectNode old = status;
    status = s;
    if (old.path("reachable").asBoolean() != s.path("reachable").asBoolean()) {
      call(() -> delegate.reachabilityChanged(this));
    }
    if (old.path("paired").asBoolean() != s.path("paired").asBoolean()
        || old.path("counterpartAppInstalled").asBoolean() != s.path("counterpartAppInstalled").asBoolean()
        || old.path("complicationEnabled").asBoolean() != s.path("complicationEnabled").asBoolean()) {
      call(() -> delegate.pairingStateChanged(this));
    }
  }

  private void delivery(ObjectNode d) {
    if (state == ActivationState.INACTIVE) {
      return;
    }
    deliveredSinceAck = true;
    CURRENT.set(d);
    try {
      switch (d.path("kind").asText()) {
        case "userInfo" -> {
          Map<String, Object> m = decodeOrEmpty(d.get("payload"));
          call(() -> delegate.userInfoReceived(this, m));
        }
        case "applicationContext" -> {
          Map<String, Object> m = decodeOrEmpty(d.get("payload"));
          receivedApplicationContext = m;
          call(() -> delegate.applicationContextReceived(this, m));
        }
        case "file" -> {
          ReceivedFile f = new ReceivedFile(Path.of(d.path("file").asText()), decodeOrEmpty(d.get("metadata")),
              d.path("size").asLong(), d.path("sha256").asText());
          call(() -> delegate.fileReceived(this, f));
        }
        default -> log.warning("unknown delivery kind " + d.path("kind").asText());
      }
    } finally {
      CURRENT.remove();
    }
    synchronized (toAck) {
      toAck.add(d.path("seq").asLong());
      if (flushScheduled) {
        return;
      }
      flushScheduled = true;
    }
    client.deliver(this::flushAcks);
  }

  private void flushAcks() {
    ArrayNode seqs = Json.array();
    synchronized (toAck) {
      flushScheduled = false;
      if (toAck.isEmpty()) {
        return;
      }
      toAck.forEach(seqs::add);
      toAck.clear();
      acksInFlight++;
    }
    ObjectNode b = Json.object();
    b.set("seqs", seqs);
    deliveredSinceAck = false;
    client.request(ConnectivityOp.ACK, b).whenComplete((r, failure) -> client.deliver(() -> {
      synchronized (toAck) {
        acksInFlight--;
      }
      if (failure == null) {
        daemonPending = r.path("pending").asInt();
      }
      checkDrained();
    }));
  }

  private void checkDrained() {
    if (!hasContentPending() && state == ActivationState.ACTIVATED) {
      for (CompletableFuture<ConnectivitySession> f : drainWaiters) {
        drainWaiters.remove(f);
        f.complete(this);
      }
    }
  }

  private void finished(ObjectNode e) {
    if (e.has("failure") && !failuresTold.add(e.path("failure").asLong())) {
      return; // pushed again (a second activation) before our acknowledgement arrived
    }
    String id = e.path("id").asText();
    Optional<TetherException> error = Optional.empty();
    if (e.hasNonNull("code")) {
      ErrorCode code;
      try {
        code = ErrorCode.valueOf(e.path("code").asText());
      } catch (IllegalArgumentException unknown) {
        code = ErrorCode.DELIVERY_FAILED;
      }
      error = Optional.of(new TetherException(code, e.path("error").asText("the transfer could not be delivered")));
    }
    Optional<TetherException> outcome = error;
    if (e.path("kind").asText().equals("file")) {
      FileTransferImpl t = files.remove(id);
      FileTransfer ft = t != null ? t : new FileTransferImpl(id, "", Map.of(), 0);
      if (t != null) {
        t.transferring = false;
      }
      call(() -> delegate.fileTransferFinished(this, ft, outcome));
      acknowledgeFailure(e);
    } else {
      UserInfoTransferImpl t = infos.remove(id);
      UserInfoTransfer ut = t != null ? t : new UserInfoTransferImpl(id, Map.of(), false);
      if (t != null) {
        t.transferring = false;
      }
      call(() -> delegate.userInfoTransferFinished(this, ut, outcome));
      acknowledgeFailure(e);
    }
  }

  /** A failure tetherd kept for this app is forgotten once the delegate has been told (it is told again otherwise). */
  private void acknowledgeFailure(ObjectNode e) {
    if (e.has("failure")) {
      ObjectNode b = Json.object();
      b.putArray("failures").add(e.path("failure").asLong());
      client.request(ConnectivityOp.FAILED_ACK, b);
    }
  }

  private void blocked(ObjectNode e) {
    String id = e.path("id").asText();
    ErrorCode code;
    try {
      code = ErrorCode.valueOf(e.path("code").asText());
    } catch (IllegalArgumentException unknown) {
      code = ErrorCode.INSUFFICIENT_SPACE;
    }
    TetherException error = new TetherException(code, e.path("error").asText());
    if (e.path("kind").asText().equals("userInfo")) {
      call(() -> delegate.userInfoTransfersBlocked(this, error));
      return;
    }
    FileTransferImpl t = files.get(id);
    FileTransfer ft = t != null ? t : new FileTransferImpl(id, "", Map.of(), 0);
    if (t != null) {
      t.error = error;
    }
    call(() -> delegate.fileTransferBlocked(this, ft, error));
  }

  private void progress(ObjectNode p) {
    FileTransferImpl t = files.get(p.path("id").asText());
    if (t != null) {
      t.sent = p.path("sent").asLong();
      call(() -> delegate.fileTransferProgress(this, t));
    }
  }

  private void message(ObjectNode m) {
    String mid = m.path("mid").asText();
    boolean replyExpected = m.path("replyExpected").asBoolean();
    ObjectNode reply = Json.object();
    reply.put("mid", mid);
    try {
      if (m.has("data")) {
        byte[] data = Base64.getDecoder().decode(m.path("data").asText());
        if (replyExpected) {
          byte[] r = delegate.messageDataReceivedWithReply(this, data);
          reply.put("data", Base64.getEncoder().encodeToString(r == null ? new byte[0] : r));
        } else {
          delegate.messageDataReceived(this, data);
        }
      } else {
        Map<String, Object> msg = decodeOrEmpty(m.get("payload"));
        if (replyExpected) {
          Map<String, Object> r = delegate.messageReceivedWithReply(this, msg);
          reply.set("payload", Payloads.encodeTree(r == null ? Map.of() : r, PropertyList.MAX_MESSAGE_BYTES, "reply"));
        } else {
          delegate.messageReceived(this, msg);
        }
      }
    } catch (RuntimeException e) {
      log.log(Level.WARNING, "connectivity delegate threw on a message", e);
      reply.put("error", "the counterpart's delegate failed: " + e);
    }
    client.request(ConnectivityOp.REPLY, reply);
  }

  private void requireActivated() {
    if (state == ActivationState.INACTIVE) {
      throw new TetherException(ErrorCode.SESSION_INACTIVE, "the session is inactive while the active companion changes; "
          + "activate it again after sessionDeactivated");
    }
    if (state != ActivationState.ACTIVATED) {
      throw new TetherException(ErrorCode.SESSION_NOT_ACTIVATED, "call activate() on the connectivity session first");
    }
  }

  @Override
  public ActivationState activationState() {
    return state;
  }

  @Override
  public boolean isPaired() {
    return status.path("paired").asBoolean();
  }

  @Override
  public boolean isCounterpartAppInstalled() {
    return status.path("counterpartAppInstalled").asBoolean();
  }

  @Override
  public boolean isComplicationEnabled() {
    return status.path("complicationEnabled").asBoolean();
  }

  @Override
  public boolean isReachable() {
    return state == ActivationState.ACTIVATED && status.path("reachable").asBoolean();
  }

  @Override
  public ConnectivitySession complicationEnabled(boolean enabled) {
    this.complicationEnabled = enabled;
    return this;
  }

  private CompletableFuture<ObjectNode> message(ObjectNode body, boolean reply, Duration timeout) {
    requireActivated();
    body.put("replyExpected", reply);
    body.put("timeoutMillis", timeout.toMillis());
    return client.request(ConnectivityOp.MESSAGE, body);
  }

  @Override
  public CompletableFuture<Void> sendMessage(Map<String, ?> message) {
    ObjectNode b = Json.object();
    b.set("payload", Payloads.encodeTree(message, PropertyList.MAX_MESSAGE_BYTES, "message"));
    return message(b, false, Duration.ofSeconds(30)).thenApply(r -> null);
  }

  @Override
  public CompletableFuture<Map<String, Object>> sendMessage(Map<String, ?> message, Duration replyTimeout) {
    ObjectNode b = Json.object();
    b.set("payload", Payloads.encodeTree(message, PropertyList.MAX_MESSAGE_BYTES, "message"));
    return message(b, true, replyTimeout).thenApply(r -> decodeOrEmpty(r.get("payload")));
  }

  @Override
  public CompletableFuture<Void> sendMessageData(byte[] data) {
    return message(dataBody(data), false, Duration.ofSeconds(30)).thenApply(r -> null);
  }

  @Override
  public CompletableFuture<byte[]> sendMessageData(byte[] data, Duration replyTimeout) {
    return message(dataBody(data), true, replyTimeout).thenApply(r -> Base64.getDecoder().decode(r.path("data").asText("")));
  }

  private static ObjectNode dataBody(byte[] data) {
    Objects.requireNonNull(data, "data");
    if (data.length > PropertyList.MAX_MESSAGE_BYTES) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, "message data is " + data.length + " bytes; the limit is "
          + PropertyList.MAX_MESSAGE_BYTES);
    }
    ObjectNode b = Json.object();
    b.put("data", Base64.getEncoder().encodeToString(data));
    return b;
  }

  @Override
  public boolean updateApplicationContext(Map<String, ?> context) {
    JsonNode tree = Payloads.encodeTree(context, PropertyList.MAX_CONTEXT_BYTES, "application context");
    requireActivated();
    ObjectNode b = Json.object();
    b.set("payload", tree);
    boolean sent = client.call(ConnectivityOp.CONTEXT, b).path("sent").asBoolean();
    applicationContext = decodeOrEmpty(tree);
    return sent;
  }

  @Override
  public Map<String, Object> applicationContext() {
    return applicationContext;
  }

  @Override
  public Map<String, Object> receivedApplicationContext() {
    return receivedApplicationContext;
  }

  @Override
  public UserInfoTransfer transferUserInfo(Map<String, ?> userInfo) {
    return userInfo(userInfo, false);
  }

  @Override
  public UserInfoTransfer transferCurrentComplicationUserInfo(Map<String, ?> userInfo) {
    return userInfo(userInfo, true);
  }

  private UserInfoTransfer userInfo(Map<String, ?> userInfo, boolean complication) {
    JsonNode tree = Payloads.encodeTree(userInfo, PropertyList.MAX_MESSAGE_BYTES, "user info");
    requireActivated();
    ObjectNode b = Json.object();
    b.set("payload", tree);
    b.put("complication", complication);
    ObjectNode r = client.call(ConnectivityOp.USER_INFO, b);
    UserInfoTransferImpl t = new UserInfoTransferImpl(r.path("id").asText(), decodeOrEmpty(tree), r.path("complication").asBoolean());
    infos.put(t.id, t);
    return t;
  }

  @Override
  public int remainingComplicationUserInfoTransfers() {
    return client.call(ConnectivityOp.STATE, Json.object()).path("remainingComplicationUserInfoTransfers").asInt();
  }

  @Override
  public List<UserInfoTransfer> outstandingUserInfoTransfers() {
    List<UserInfoTransfer> list = new ArrayList<>();
    for (JsonNode n : OutstandingPages.all(client).path("userInfo")) {
      String id = n.path("id").asText();
      UserInfoTransferImpl known = infos.get(id);
      list.add(known != null ? known : new UserInfoTransferImpl(id, decodeOrEmpty(n.get("payload")), n.path("complication").asBoolean()));
    }
    return list;
  }

  @Override
  public FileTransfer transferFile(Path file, Map<String, ?> metadata) {
    Objects.requireNonNull(file, "file");
    JsonNode meta = Payloads.encodeTree(metadata == null ? Map.of() : metadata, PropertyList.MAX_MESSAGE_BYTES, "file metadata");
    requireActivated();
    ObjectNode b = Json.object();
    b.put("path", file.toAbsolutePath().normalize().toString());
    b.set("metadata", meta);
    ObjectNode r = client.call(ConnectivityOp.FILE, b);
    FileTransferImpl t = new FileTransferImpl(r.path("id").asText(), file.getFileName().toString(), decodeOrEmpty(meta), r.path("size").asLong());
    files.put(t.id, t);
    return t;
  }

  @Override
  public List<FileTransfer> outstandingFileTransfers() {
    List<FileTransfer> list = new ArrayList<>();
    for (JsonNode n : OutstandingPages.all(client).path("files")) {
      String id = n.path("id").asText();
      FileTransferImpl known = files.get(id);
      FileTransferImpl t = known != null ? known : new FileTransferImpl(id, n.path("name").asText(), decodeOrEmpty(n.get("metadata")), n.path("size").asLong());
      if (n.hasNonNull("errorCode")) {
        ErrorCode code;
        try {
          code = ErrorCode.valueOf(n.path("errorCode").asText());
        } catch (IllegalArgumentException unknown) {
          code = ErrorCode.INSUFFICIENT_SPACE;
        }
        t.error = new TetherException(code, n.path("error").asText());
      } else {
        t.error = null;
      }
      list.add(t);
    }
    return list;
  }

  @Override
  public boolean hasContentPending() {
    synchronized (toAck) {
      if (!toAck.isEmpty() || acksInFlight > 0) {
        return true;
      }
    }
    return deliveredSinceAck || daemonPending != 0;
  }

  @Override
  public CompletableFuture<ConnectivitySession> drained() {
    CompletableFuture<ConnectivitySession> f = new CompletableFuture<>();
    drainWaiters.add(f);
    client.deliver(this::checkDrained);
    return f;
  }

  private void cancel(String id) {
    ObjectNode b = Json.object();
    b.put("id", id);
    client.call(ConnectivityOp.CANCEL, b);
  }

  private final class UserInfoTransferImpl implements UserInfoTransfer {
    final String id;
    final Map<String, Object> userInfo;
    final boolean complication;
    volatile boolean transferring = true;

    UserInfoTransferImpl(String id, Map<String, Object> userInfo, boolean complication) {
      this.id = id;
      this.userInfo = userInfo;
      this.complication = complication;
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public Map<String, Object> userInfo() {
      return userInfo;
    }

    @Override
    public boolean isCurrentComplicationInfo() {
      return complication;
    }

    @Override
    public boolean isTransferring() {
      return transferring;
    }

    @Override
    public void cancel() {
      ConnectivitySessionImpl.this.cancel(id);
      transferring = false;
      infos.remove(id);
    }

    @Override
    public String toString() {
      return "UserInfoTransfer[" + id + "]";
    }
  }

  private final class FileTransferImpl implements FileTransfer {
    final String id;
    final String name;
    final Map<String, Object> metadata;
    final long size;
    volatile long sent;
    volatile boolean transferring = true;
    volatile TetherException error;

    FileTransferImpl(String id, String name, Map<String, Object> metadata, long size) {
      this.id = id;
      this.name = name;
      this.metadata = metadata;
      this.size = size;
    }

    @Override
    public String id() {
      return id;
    }

    @Override
    public String fileName() {
      return name;
    }

    @Override
    public Map<String, Object> metadata() {
      return metadata;
    }

    @Override
    public long size() {
      return size;
    }

    @Override
    public long bytesSent() {
      return sent;
    }

    @Override
    public boolean isTransferring() {
      return transferring;
    }

    @Override
    public Optional<TetherException> blockedBy() {
      return Optional.ofNullable(error);
    }

    @Override
    public void cancel() {
      ConnectivitySessionImpl.this.cancel(id);
      transferring = false;
      files.remove(id);
    }

    @Override
    public String toString() {
      return "FileTransfer[" + id + " " + name + "]";
    }
  }
}
