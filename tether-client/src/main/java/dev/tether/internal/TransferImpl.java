package dev.tether.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.DownloadTransfer;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.TransferState;
import dev.tether.UploadTransfer;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;

/** A transfer handle: the daemon's last word about it, and the operations on it. */
abstract class TransferImpl implements Transfer {
  private final UrlSessionImpl session;
  private final long id;
  private final String urlText;
  /** Parsed on first use: a thousand transfers followed by the CLI never need theirs. */
  private volatile URI url;
  private volatile String description;
  private volatile TransferState state = TransferState.RUNNING;
  private volatile long bytesDone;
  private volatile long bytesExpected = -1;
  private volatile int status;
  private volatile TransferError error;

  TransferImpl(UrlSessionImpl session, JsonNode json) {
    this.session = session;
    this.id = json.path("id").asLong();
    this.urlText = json.path("url").asText();
  }

  synchronized void update(JsonNode j) {
    description = j.hasNonNull("description") ? j.get("description").asText() : null;
    String s = j.path("state").asText("RUNNING");
    if (!(state == TransferState.CANCELLING && s.equals("RUNNING")) && state != TransferState.COMPLETED) {
      state = TransferState.valueOf(s);
    }
    bytesDone = j.path("bytesDone").asLong(bytesDone);
    bytesExpected = j.path("bytesExpected").asLong(bytesExpected);
    status = j.path("status").asInt(status);
    if (j.hasNonNull("error")) {
      error = UrlSessionImpl.toError(j.get("error"));
    }
  }

  synchronized void completed(Optional<TransferError> e) {
    state = TransferState.COMPLETED;
    error = e.orElse(null);
  }

  @Override
  public long id() {
    return id;
  }

  @Override
  public String sessionIdentifier() {
    return session.configuration().identifier();
  }

  @Override
  public URI url() {
    URI u = url;
    if (u == null) {
      u = URI.create(urlText);
      url = u;
    }
    return u;
  }

  @Override
  public Optional<String> description() {
    return Optional.ofNullable(description);
  }

  @Override
  public TransferState state() {
    return state;
  }

  @Override
  public long bytesDone() {
    return bytesDone;
  }

  @Override
  public long bytesExpected() {
    return bytesExpected;
  }

  @Override
  public OptionalInt responseStatus() {
    return status > 0 ? OptionalInt.of(status) : OptionalInt.empty();
  }

  @Override
  public Optional<TransferError> error() {
    return Optional.ofNullable(error);
  }

  ObjectNode idBody() {
    ObjectNode b = Json.object();
    b.put("id", id);
    return b;
  }

  @Override
  public void suspend() {
    update(session.client().call(TransferOp.SUSPEND, idBody()));
  }

  @Override
  public void resume() {
    update(session.client().call(TransferOp.RESUME, idBody()));
  }

  @Override
  public void cancel() {
    synchronized (this) {
      if (state != TransferState.COMPLETED) {
        state = TransferState.CANCELLING;
      }
    }
    session.client().call(TransferOp.CANCEL, idBody());
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + id + " " + urlText + " " + state + " " + bytesDone + "/" + bytesExpected + "]";
  }

  static final class Download extends TransferImpl implements DownloadTransfer {
    Download(UrlSessionImpl session, JsonNode json) {
      super(session, json);
    }

    @Override
    public CompletableFuture<byte[]> cancelProducingResumeData() {
      synchronized (this) {
        if (state() != TransferState.COMPLETED) {
          super.state = TransferState.CANCELLING;
        }
      }
      ObjectNode b = idBody();
      b.put("produceResumeData", true);
      return super.session.client().request(TransferOp.CANCEL, b).thenApply(UrlSessionImpl::resumeBytes);
    }
  }

  static final class Upload extends TransferImpl implements UploadTransfer {
    private final Path file;

    Upload(UrlSessionImpl session, JsonNode json) {
      super(session, json);
      this.file = Path.of(json.path("file").asText());
    }

    @Override
    public Path file() {
      return file;
    }
  }
}
