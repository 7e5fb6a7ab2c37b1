package dev.tether.daemon.internal.transfer;

import dev.tether.protocol.ErrorCode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.LongConsumer;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpException;

/**
 * Runs on the attempt's worker, blocking, as part of its {@link HttpAttempt}: the IETF resumable-upload protocol
 * (draft-ietf-httpbis-resumable-upload, interop version {@value #RESUMABLE_UPLOAD_INTEROP_VERSION}), "careful upload
 * creation": this blocking client cannot read the 104 interim response while it sends a body, so it asks whether the
 * target supports the protocol, creates the upload resource with an empty request, then appends the file to it and,
 * after an interruption, asks for the offset and appends the rest.
 */
final class ResumableUpload {
  /**
   * draft-ietf-httpbis-resumable-upload's interop version this client implements (sent on every request of the
   * protocol, as the draft requires of draft implementations).
   */
  static final String RESUMABLE_UPLOAD_INTEROP_VERSION = "8";
  private static final ContentType PARTIAL_UPLOAD = ContentType.create("application/partial-upload");

  private final HttpAttempt attempt;
  private final TransferRow row;
  private final SessionConfig config;

  ResumableUpload(HttpAttempt attempt, TransferRow row, SessionConfig config) {
    this.attempt = attempt;
    this.row = row;
    this.config = config;
  }

  /**
   * Creates an upload resource for the transfer's target when the server says (OPTIONS, {@code Accept-Patch}) that it
   * takes resumable uploads there; null when it does not, or declines, so the upload goes the ordinary way.
   */
  URI create(URI url, long size, String credential) throws IOException, HttpException {
    HttpUriRequestBase options = attempt.request("OPTIONS", url, credential);
    options.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
    try (ClassicHttpResponse resp = attempt.execute(options)) {
      HttpResponses.discard(resp);
      Header ap = resp.getFirstHeader("Accept-Patch");
      if (resp.getCode() / 100 != 2 || ap == null || !ap.getValue().toLowerCase(Locale.ROOT).contains("application/partial-upload")) {
        return null;
      }
    }
    URI target = url;
    for (int hop = 0; hop <= HttpAttempt.MAX_REDIRECTS; hop++) {
      HttpUriRequestBase create = attempt.request(row.method(), target, credential);
      create.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
      create.setHeader("Upload-Complete", "?0");
      create.setHeader("Upload-Length", Long.toString(size));
      create.setEntity(new FileBody(Path.of(row.uploadFile()), 0, 0, b -> {}));
      try (ClassicHttpResponse resp = attempt.execute(create)) {
        HttpResponses.discard(resp);
        int code = resp.getCode();
        Header location = resp.getFirstHeader("Location");
        if ((code == 307 || code == 308) && location != null) {
          target = HttpResponses.resolve(target, location.getValue());
          if (target == null || HttpAttempt.urlProblem(target, config.allowsPlainHttp()) != null) {
            return null;
          }
          continue;
        }
        if (code / 100 == 2 && location != null) {
          URI resource = HttpResponses.resolve(target, location.getValue());
          return resource != null && HttpAttempt.urlProblem(resource, config.allowsPlainHttp()) == null ? resource : null;
        }
        return null; // declined: the ordinary upload gets the server's real answer
      }
    }
    return null;
  }

  /**
   * Resumes at the offset the upload resource reports. Null when the resource cannot be used any more (gone, or the
   * file no longer matches what was sent), so the caller starts over.
   */
  HttpAttempt.Outcome resume(URI resource, Path file, long size, String credential, LongConsumer progress)
      throws IOException, HttpException {
    HttpUriRequestBase head = attempt.request("HEAD", resource, credential);
    head.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
    long offset;
    boolean complete;
    long length;
    try (ClassicHttpResponse resp = attempt.execute(head)) {
      HttpResponses.discard(resp);
      int code = resp.getCode();
      if (code == 401 || code == 407 || HttpResponses.retryable(code)) {
        return HttpResponses.classify(resp, code);
      }
      offset = HttpResponses.structuredInteger(resp, "Upload-Offset");
      complete = "?1".equals(HttpResponses.headerValue(resp, "Upload-Complete"));
      length = HttpResponses.structuredInteger(resp, "Upload-Length");
      if (code / 100 != 2 || offset < 0) {
        return null;
      }
    }
    if (complete && offset == size) {
      // the server has the whole file; only its final answer was lost (the protocol cannot give it again)
      return new HttpAttempt.Done(204, size);
    }
    if (complete || offset > size || (length >= 0 && length != size)) {
      cancel(resource, credential);
      return null;
    }
    return append(resource, file, offset, size, credential, progress);
  }

  /**
   * Appends the file from {@code offset} to the upload resource and completes it. The server's final answer is the
   * transfer's outcome; null when the resource is gone (start over). A dropped connection is a retry that resumes.
   */
  HttpAttempt.Outcome append(URI resource, Path file, long offset, long size, String credential, LongConsumer progress)
      throws IOException, HttpException {
    URI target = resource;
    long from = offset;
    for (int round = 0; round <= HttpAttempt.MAX_REDIRECTS; round++) {
      HttpUriRequestBase patch = attempt.request("PATCH", target, credential);
      patch.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
      patch.setHeader("Upload-Offset", Long.toString(from));
      patch.setHeader("Upload-Complete", "?1");
      FileBody body = new FileBody(file, from, size - from, PARTIAL_UPLOAD, progress);
      patch.setEntity(body);
      try (ClassicHttpResponse resp = attempt.execute(patch)) {
        HttpResponses.discard(resp);
        int code = resp.getCode();
        boolean finalAnswer = "?1".equals(HttpResponses.headerValue(resp, "Upload-Complete"));
        if (code == 409 && !finalAnswer) {
          long expected = HttpResponses.structuredInteger(resp, "Upload-Offset");
          if (expected < 0 || expected > size) {
            return null;
          }
          from = expected; // the server kept a different amount than we thought: continue from its offset
          continue;
        }
        if ((code == 307 || code == 308) && !finalAnswer && resp.getFirstHeader("Location") != null) {
          target = HttpResponses.resolve(target, resp.getFirstHeader("Location").getValue());
          if (target == null) {
            return new HttpAttempt.Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server redirected an upload append to an invalid Location", code);
          }
          continue;
        }
        if ((code == 404 || code == 410) && !finalAnswer) {
          return null;
        }
        HttpAttempt.Outcome early = HttpResponses.classify(resp, code);
        if (early != null) {
          return early;
        }
        if (code >= 200 && code < 400) {
          return new HttpAttempt.Done(code, size);
        }
        return new HttpAttempt.Fail(ErrorCode.HTTP_ERROR, "the server answered " + code + " " + resp.getReasonPhrase() + " for " + row.url(), code);
      } catch (IOException e) {
        if (attempt.isStopped()) {
          return new HttpAttempt.Stopped();
        }
        String m = e.getMessage();
        // the server keeps what it received: the next attempt asks for its offset and sends the rest
        return new HttpAttempt.Retry(null, e.getClass().getSimpleName() + (m == null ? "" : ": " + m), body.sent > 0, true);
      }
    }
    return new HttpAttempt.Fail(ErrorCode.HTTP_ERROR, "more than " + HttpAttempt.MAX_REDIRECTS + " redirects or offset corrections appending to " + resource, 0);
  }

  /** Best effort: tells the server it can drop an upload resource this transfer will not use again. */
  void cancel(URI resource, String credential) {
    try {
      HttpUriRequestBase delete = attempt.request("DELETE", resource, credential);
      delete.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
      try (ClassicHttpResponse resp = attempt.execute(delete)) {
        HttpResponses.discard(resp);
      }
    } catch (IOException | HttpException | RuntimeException e) {
      // the server expires abandoned upload resources by itself
    }
  }
}
