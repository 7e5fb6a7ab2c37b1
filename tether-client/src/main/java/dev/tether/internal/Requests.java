package dev.tether.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.DownloadTransfer;
import dev.tether.UploadTransfer;
import dev.tether.UrlSession;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;

/** The builders behind {@link UrlSession#download} and {@link UrlSession#upload}. */
final class Requests {
  private Requests() {}

  static final class Download implements UrlSession.DownloadRequest {
    private final UrlSessionImpl session;
    private final ObjectNode body = Json.object();

    Download(UrlSessionImpl session, URI url) {
      this.session = session;
      body.put("url", url.toString());
    }

    @Override
    public UrlSession.DownloadRequest notBefore(Instant earliest) {
      body.put("notBefore", Objects.requireNonNull(earliest, "earliest").toString());
      return this;
    }

    @Override
    public UrlSession.DownloadRequest description(String description) {
      body.put("description", description);
      return this;
    }

    @Override
    public UrlSession.DownloadRequest expectedBytes(long bytes) {
      body.put("expectedBytes", bytes);
      return this;
    }

    @Override
    public UrlSession.DownloadRequest destination(Path file) {
      body.put("destination", file.toAbsolutePath().normalize().toString());
      return this;
    }

    @Override
    public DownloadTransfer start() {
      return (DownloadTransfer) session.transfer(session.create(TransferOp.DOWNLOAD, body.deepCopy()));
    }
  }

  static final class Upload implements UrlSession.UploadRequest {
    private final UrlSessionImpl session;
    private final ObjectNode body = Json.object();

    Upload(UrlSessionImpl session, Path file, URI url) {
      this.session = session;
      body.put("url", url.toString());
      body.put("file", file.toAbsolutePath().normalize().toString());
    }

    @Override
    public UrlSession.UploadRequest method(String method) {
      body.put("method", Objects.requireNonNull(method, "method"));
      return this;
    }

    @Override
    public UrlSession.UploadRequest notBefore(Instant earliest) {
      body.put("notBefore", Objects.requireNonNull(earliest, "earliest").toString());
      return this;
    }

    @Override
    public UrlSession.UploadRequest description(String description) {
      body.put("description", description);
      return this;
    }

    @Override
    public UrlSession.UploadRequest expectedBytes(long bytes) {
      body.put("expectedBytes", bytes);
      return this;
    }

    @Override
    public UploadTransfer start() {
      return (UploadTransfer) session.transfer(session.create(TransferOp.UPLOAD, body.deepCopy()));
    }
  }
}
