package dev.tether.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.AuthenticationChallenge;
import dev.tether.ChallengeResponse;
import dev.tether.DownloadTransfer;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UploadTransfer;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/** A {@link UrlSession} backed by tetherd's {@code transfer.*} operations. */
final class UrlSessionImpl implements UrlSession {
  private static final System.Logger log = System.getLogger(UrlSession.class.getName());

  private final UrlSessions owner;
  private final DaemonClient client;
  private final SessionConfiguration config;
  private final UrlSessionDelegate delegate;
  private final Map<Long, TransferImpl> transfers = new ConcurrentHashMap<>();
  private final CompletableFuture<Void> delivered = new CompletableFuture<>();
  private volatile boolean invalidated;
  /** Events whose delegate call returned and whose acknowledgement waits for the burst's end (delivery thread only). */
  private final java.util.List<Long> pendingAcks = new java.util.ArrayList<>();
  private boolean ackFlushScheduled;
  /** When the oldest of {@link #pendingAcks} was handed over (System.nanoTime). */
  private long oldestPendingAck;
  /**
   * A burst's acknowledgements still go out before its end once this many have collected or the oldest has waited
   * this long: an app that dies in the middle of a long burst (a slow delegate, hundreds of events) is handed again
   * only what it had not yet acknowledged, not the whole burst.
   */
  static final int ACK_AT_MOST_EVERY = 64;
  static final long ACK_AT_MOST_AFTER_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(200);

  UrlSessionImpl(UrlSessions owner, SessionConfiguration config, UrlSessionDelegate delegate) {
    this.owner = owner;
    this.client = owner.client();
    this.config = config;
    this.delegate = delegate;
  }

  @Override
  public SessionConfiguration configuration() {
    return config;
  }

  DaemonClient client() {
    return client;
  }

  void markIdle() {
    delivered.complete(null);
  }

  /** The handle for a transfer, created or refreshed from the daemon's JSON. */
  TransferImpl transfer(JsonNode json) {
    long id = json.path("id").asLong();
    TransferImpl t = transfers.computeIfAbsent(id, k -> "upload".equals(json.path("kind").asText())
        ? new TransferImpl.Upload(this, json) : new TransferImpl.Download(this, json));
    t.update(json);
    return t;
  }

  void onProgress(ObjectNode e) {
    if (invalidated) {
      return;
    }
    TransferImpl t = transfer(e.get("transfer"));
    if ("retrying".equals(e.path("type").asText())) {
      return; // the transfer waits to try again: no bytes moved, nothing for the delegate (the CLI shows why)
    }
    try {
      if (t instanceof TransferImpl.Download d) {
        delegate.progress(d, t.bytesDone(), t.bytesExpected());
      } else if (t instanceof TransferImpl.Upload u) {
        delegate.uploadProgress(u, t.bytesDone(), t.bytesExpected());
      }
    } catch (RuntimeException x) {
      log.log(System.Logger.Level.WARNING, "the session delegate threw on progress of transfer " + t.id(), x);
    }
  }

  void onEvent(ObjectNode e) {
    if (invalidated) {
      return;
    }
    String type = e.path("type").asText();
    long seq = e.path("seq").asLong();
    TransferImpl t = e.hasNonNull("transfer") ? transfer(e.get("transfer")) : null;
    ObjectNode answer = null;
    try {
      switch (type) {
        case "downloadFinished" -> delegate.downloadFinished((DownloadTransfer) t, Path.of(e.path("file").asText()));
        case "completed" -> {
          Optional<TransferError> error = Optional.empty();
          if (e.hasNonNull("error")) {
            error = Optional.of(toError(e.get("error")));
          }
          t.completed(error);
          delegate.transferCompleted(t, error);
        }
        case "challenge" -> {
          JsonNode c = e.path("challenge");
          AuthenticationChallenge ch = new AuthenticationChallenge(c.path("status").asInt(401), c.path("scheme").asText("Basic"),
              c.hasNonNull("realm") ? c.get("realm").asText() : null, c.path("host").asText(), c.path("proxy").asBoolean(),
              c.path("previousFailureCount").asInt());
          ChallengeResponse r = delegate.challenge(t, ch);
          answer = Json.object();
          if (r == null) {
            r = ChallengeResponse.performDefault();
          }
          switch (r.disposition()) {
            case USE_CREDENTIAL -> {
              answer.put("disposition", "useCredential");
              answer.put("user", r.user());
              answer.put("password", r.password());
            }
            case CANCEL -> answer.put("disposition", "cancel");
            default -> answer.put("disposition", "performDefault");
          }
        }
        case "eventsFinished" -> delegate.eventsFinished(this);
        default -> log.log(System.Logger.Level.DEBUG, "ignoring transfer event of unknown type " + type);
      }
    } catch (Exception x) {
      log.log(System.Logger.Level.WARNING, "the session delegate threw on " + type + " of session " + config.identifier(), x);
    }
    if (answer == null && !"eventsFinished".equals(type)) {
      // acknowledged with the others of this burst, once the delivery thread has handed all of them to the delegate
      pendingAcks.add(seq);
      long now = System.nanoTime();
      if (pendingAcks.size() == 1) {
        oldestPendingAck = now;
      } else if (pendingAcks.size() >= ACK_AT_MOST_EVERY || now - oldestPendingAck >= ACK_AT_MOST_AFTER_NANOS) {
        flushAcks(); // the task already queued for the burst's end then finds only what came after
        return;
      }
      if (!ackFlushScheduled) {
        ackFlushScheduled = true;
        client.deliver(this::flushAcks);
      }
      return;
    }
    flushAcks();
    ObjectNode ack = Json.object();
    ack.put("session", config.identifier());
    ack.put("seq", seq);
    if (answer != null) {
      ack.set("answer", answer);
    }
    CompletableFuture<ObjectNode> acked = client.request(TransferOp.ACK, ack);
    if ("eventsFinished".equals(type)) {
      acked.whenComplete((r, x) -> delivered.complete(null));
    }
  }

  /** Sends the acknowledgements collected so far in one request (runs on the delivery thread). */
  private void flushAcks() {
    ackFlushScheduled = false;
    if (pendingAcks.isEmpty()) {
      return;
    }
    ObjectNode ack = Json.object();
    ack.put("session", config.identifier());
    var seqs = ack.putArray("seqs");
    pendingAcks.forEach(seqs::add);
    pendingAcks.clear();
    client.request(TransferOp.ACK, ack);
  }

  static TransferError toError(JsonNode e) {
    ErrorCode code;
    try {
      code = ErrorCode.valueOf(e.path("code").asText());
    } catch (IllegalArgumentException x) {
      code = ErrorCode.GENERIC;
    }
    return new TransferError(code, e.path("message").asText());
  }

  @Override
  public DownloadRequest download(URI url) {
    Objects.requireNonNull(url, "url");
    return new Requests.Download(this, url);
  }

  @Override
  public UploadRequest upload(Path file, URI url) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(url, "url");
    return new Requests.Upload(this, file, url);
  }

  @Override
  public DownloadTransfer downloadWithResumeData(byte[] resumeData) {
    Objects.requireNonNull(resumeData, "resumeData");
    ObjectNode b = Json.object();
    b.put("session", config.identifier());
    b.put("resumeData", new String(resumeData, StandardCharsets.UTF_8));
    return (DownloadTransfer) transfer(client.call(TransferOp.DOWNLOAD, b));
  }

  ObjectNode create(TransferOp op, ObjectNode body) {
    body.put("session", config.identifier());
    return client.call(op, body);
  }

  @Override
  public List<Transfer> allTransfers() {
    ObjectNode b = Json.object();
    b.put("session", config.identifier());
    List<Transfer> out = new ArrayList<>();
    for (JsonNode n : client.call(TransferOp.LIST, b).path("transfers")) {
      out.add(transfer(n));
    }
    return out;
  }

  @Override
  public CompletableFuture<Void> eventsDelivered() {
    return delivered;
  }

  @Override
  public void finishTransfersAndInvalidate() {
    invalidate(false);
  }

  @Override
  public void invalidateAndCancel() {
    invalidate(true);
  }

  private void invalidate(boolean cancel) {
    invalidated = true;
    owner.forget(this);
    ObjectNode b = Json.object();
    b.put("session", config.identifier());
    b.put("cancel", cancel);
    client.call(TransferOp.SESSION_CLOSE, b);
  }

  static String encodeInstant(Instant i) {
    return i.toString();
  }

  static byte[] resumeBytes(JsonNode r) {
    JsonNode d = r.get("resumeData");
    return d == null || d.isNull() ? null : d.asText().getBytes(StandardCharsets.UTF_8);
  }

  static String base64(byte[] b) {
    return Base64.getEncoder().encodeToString(b);
  }

  @Override
  public String toString() {
    return "UrlSession[" + config.identifier() + "]";
  }
}
