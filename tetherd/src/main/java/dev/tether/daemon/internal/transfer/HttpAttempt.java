package dev.tether.daemon.internal.transfer;

import dev.tether.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;
import org.apache.hc.client5.http.classic.methods.HttpDelete;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpHead;
import org.apache.hc.client5.http.classic.methods.HttpOptions;
import org.apache.hc.client5.http.classic.methods.HttpPatch;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.classic.methods.HttpPut;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.routing.RoutingSupport;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.io.entity.AbstractHttpEntity;
import org.apache.hc.core5.util.Timeout;

/**
 * One attempt at one transfer: a request (following redirects), the body streamed socket to file (downloads) or file
 * to socket (uploads) through a 1 MiB buffer, and an {@link Outcome} saying what the service should do next.
 * Blocking; runs on a worker thread; {@link #stop()} aborts it from another thread.
 */
final class HttpAttempt {
  static final int BUFFER = 1 << 20;
  /**
   * draft-ietf-httpbis-resumable-upload's interop version this client implements (sent on every request of the
   * protocol, as the draft requires of draft implementations).
   */
  static final String RESUMABLE_UPLOAD_INTEROP_VERSION = "8";
  /** Uploads smaller than this restart from zero rather than pay the two extra round trips of a resumable upload. */
  private static final ContentType PARTIAL_UPLOAD = ContentType.create("application/partial-upload");
  static final long RESUMABLE_UPLOAD_MIN = Long.getLong("tether.resumableUploadMin", 1L << 20);
  /** One 1 MiB buffer per worker thread, reused by every attempt it runs (a thousand small files allocate nothing). */
  private static final ThreadLocal<byte[]> BUFFERS = ThreadLocal.withInitial(() -> new byte[BUFFER]);
  private static final int MAX_REDIRECTS = 10;
  private static final long FLUSH_EVERY = Long.getLong("tether.flushEvery", 64L << 20);

  sealed interface Outcome {}

  /** The transfer finished: body in the part file (downloads) or accepted by the server (uploads). */
  record Done(int status, long bytes) implements Outcome {}

  /**
   * Worth trying again: after {@code retryAfter} if the server said so, else after the back-off. {@code transport}: the
   * connection failed (refused, reset, timed out, cut short), as it does when the network goes away, rather than the
   * server answering with a status worth retrying.
   */
  record Retry(Duration retryAfter, String reason, boolean madeProgress, boolean transport) implements Outcome {}

  /** Final failure. */
  record Fail(ErrorCode code, String message, int status) implements Outcome {}

  /** 401 or 407: wait for the app's answer. */
  record Challenge(int status, String scheme, String realm, boolean proxy) implements Outcome {}

  /** Stopped from outside (suspend, cancel, shutdown). */
  record Stopped() implements Outcome {}

  /**
   * What the service persists when an upload learns (or loses) its upload resource: the URL where a server that speaks
   * the IETF resumable-upload protocol keeps the bytes received so far, or null once it is no longer usable. It must
   * be durable when this returns (an upload resumed after a daemon restart starts from it).
   */
  interface UploadResourceSink {
    void save(String uploadResource);
  }

  /** What the service persists when a download learns (or changes) its validator. */
  interface ValidatorSink {
    void save(String etag, String lastModified, boolean acceptRanges, long total, int status, boolean restarted);
  }

  private final CloseableHttpClient http;
  private final TransferRow row;
  private final SessionConfig config;
  private final Path part;
  /** The whole body's length once a response told it, else -1 (for the full-disk message). */
  private long expectedTotal = -1;
  private final ExecutorService flusher;
  private volatile boolean stopped;
  private volatile HttpUriRequestBase current;

  HttpAttempt(CloseableHttpClient http, TransferRow row, SessionConfig config, Path part, ExecutorService flusher) {
    this.http = http;
    this.row = row;
    this.config = config;
    this.part = part;
    this.flusher = flusher;
  }

  void stop() {
    stopped = true;
    HttpUriRequestBase r = current;
    if (r != null) {
      r.cancel();
    }
  }

  boolean isStopped() {
    return stopped;
  }

  /** Checks scheme, absoluteness and the plain-HTTP rule; returns null when allowed, else why not. */
  static String urlProblem(URI url, boolean allowsPlainHttp) {
    if (url == null || !url.isAbsolute()) {
      return "URL '" + url + "' is not absolute; give a full http:// or https:// URL";
    }
    String scheme = url.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      return "URL '" + url + "' uses " + scheme + ":, but background transfers support only http: and https:";
    }
    if (url.getHost() == null || url.getHost().isEmpty()) {
      return "URL '" + url + "' has no host";
    }
    if (scheme.equals("http") && !allowsPlainHttp && !isLoopback(url.getHost())) {
      return "plain HTTP to " + url.getHost() + " is not allowed; use https://, or allow it with allowsPlainHttp(true) on the"
          + " session configuration (tether download/upload: --allow-plain-http)";
    }
    return null;
  }

  /** A loopback literal or a {@code localhost} name: what the host's text alone says, never resolved. */
  static boolean isLoopback(String host) {
    return Boolean.TRUE.equals(LocalHosts.byName(host));
  }

  Outcome run(String credential, LongConsumer progress, ValidatorSink validators, UploadResourceSink uploadResources) {
    try {
      return row.isDownload() ? download(credential, progress, validators) : upload(credential, progress, uploadResources);
    } catch (HttpException e) {
      return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server's answer could not be understood: " + e.getMessage(), 0);
    } catch (IOException e) {
      if (stopped) {
        return new Stopped();
      }
      String m = e.getMessage();
      if (isNoSpace(e) && part != null) {
        return noSpace();
      }
      if (e instanceof org.apache.hc.core5.http.MessageConstraintException || e instanceof org.apache.hc.client5.http.ClientProtocolException) {
        return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server's answer could not be understood: " + m, 0);
      }
      return new Retry(null, e.getClass().getSimpleName() + (m == null ? "" : ": " + m), false, true);
    } finally {
      current = null;
    }
  }

  private HttpUriRequestBase newRequest(String method, URI url, String credential, int challengeStatus) {
    HttpUriRequestBase req = switch (method) {
      case "GET" -> new HttpGet(url);
      case "PUT" -> new HttpPut(url);
      case "POST" -> new HttpPost(url);
      case "HEAD" -> new HttpHead(url);
      case "OPTIONS" -> new HttpOptions(url);
      case "PATCH" -> new HttpPatch(url);
      case "DELETE" -> new HttpDelete(url);
      default -> new HttpUriRequestBase(method, url);
    };
    config.headers().forEach(req::setHeader);
    row.headers().forEach(req::setHeader);
    if (credential != null) {
      String basic = "Basic " + Base64.getEncoder().encodeToString(credential.getBytes(StandardCharsets.UTF_8));
      req.setHeader(challengeStatus == 407 ? "Proxy-Authorization" : "Authorization", basic);
    }
    Timeout t = Timeout.ofMilliseconds(config.requestTimeout().toMillis());
    @SuppressWarnings("deprecation")
    RequestConfig rc = RequestConfig.custom().setResponseTimeout(t).setConnectTimeout(t)
        .setConnectionRequestTimeout(Timeout.ofMinutes(5)).setRedirectsEnabled(false).build();
    req.setConfig(rc);
    current = req;
    if (stopped) {
      req.cancel();
    }
    return req;
  }

  private Outcome download(String credential, LongConsumer progress, ValidatorSink validators) throws IOException, HttpException {
    URI url = URI.create(row.url());
    long have = Files.exists(part) ? Files.size(part) : 0;
    String etag = row.etag();
    String lastModified = row.lastModified();
    boolean tryRange = have > 0 && row.acceptRanges() && (strong(etag) || lastModified != null);
    long startBytes = have;
    for (int hop = 0; hop <= MAX_REDIRECTS + 2; hop++) {
      String problem = urlProblem(url, config.allowsPlainHttp());
      if (problem != null) {
        return new Fail(ErrorCode.INVALID_URL, "redirected to a URL that is not allowed: " + problem, 0);
      }
      HttpUriRequestBase req = newRequest("GET", url, credential, row.challengeCount() > 0 ? lastChallengeStatus() : 401);
      if (tryRange) {
        req.setHeader("Range", "bytes=" + have + "-");
        req.setHeader("If-Range", strong(etag) ? etag : lastModified);
      }
      try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(req), req, null)) {
        int code = resp.getCode();
        if (isRedirect(code) && resp.getFirstHeader("Location") != null) {
          url = resolve(url, resp.getFirstHeader("Location").getValue());
          if (url == null) {
            return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server redirected to an invalid Location", code);
          }
          continue;
        }
        Outcome early = classify(resp, code);
        if (early != null) {
          return early;
        }
        boolean restarted;
        if (code == 206 && tryRange) {
          long start = contentRangeStart(resp);
          if (start != have) {
            // the server answered a range we did not ask for: start over without a range
            tryRange = false;
            have = 0;
            Files.deleteIfExists(part);
            continue;
          }
          restarted = false;
        } else if (code == 416 && tryRange) {
          Header cr = resp.getFirstHeader("Content-Range");
          if (cr != null && cr.getValue().trim().equals("bytes */" + have)) {
            return new Done(200, have); // the part file already holds the whole body (stopped before it was recorded)
          }
          tryRange = false;
          have = 0;
          Files.deleteIfExists(part);
          continue;
        } else if (code >= 200 && code < 300) {
          restarted = have > 0;
          have = 0;
        } else {
          return new Fail(ErrorCode.HTTP_ERROR, "the server answered " + code + " " + resp.getReasonPhrase() + " for " + url, code);
        }
        HttpEntity entity = resp.getEntity();
        long length = entity == null ? 0 : entity.getContentLength();
        long total = length >= 0 ? have + length : -1;
        expectedTotal = total;
        if (length > 0) {
          String shortfall = DiskSpace.shortfall(part.getParent(), length,
              row.destination() == null ? null : Path.of(row.destination()), total);
          if (shortfall != null) {
            return new Fail(ErrorCode.INSUFFICIENT_SPACE, shortfall, code);
          }
        }
        Header et = resp.getFirstHeader("ETag");
        Header lm = resp.getFirstHeader("Last-Modified");
        Header ar = resp.getFirstHeader("Accept-Ranges");
        boolean ranges = code == 206 || (ar != null && ar.getValue().toLowerCase(Locale.ROOT).contains("bytes"));
        validators.save(et == null ? null : et.getValue(), lm == null ? null : lm.getValue(), ranges, total, code, restarted);
        long written = have;
        try (FileChannel ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
          ch.truncate(have);
          ch.position(have);
          progress.accept(have);
          if (entity != null) {
            written = copy(entity.getContent(), ch, have, progress);
          }
          if (total >= 0 && written != total) {
            return new Retry(null, "the body ended after " + written + " of " + total + " bytes", written > startBytes, true);
          }
        }
        return new Done(code, written);
      } catch (IOException e) {
        if (stopped) {
          return new Stopped();
        }
        long now = Files.exists(part) ? Files.size(part) : 0;
        String m = e.getMessage();
        if (isNoSpace(e)) {
          return noSpace();
        }
        if (e instanceof org.apache.hc.core5.http.MessageConstraintException || e instanceof org.apache.hc.client5.http.ClientProtocolException) {
          return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server's answer could not be understood: " + m, 0);
        }
        return new Retry(null, e.getClass().getSimpleName() + (m == null ? "" : ": " + m), now > startBytes, true);
      }
    }
    return new Fail(ErrorCode.HTTP_ERROR, "more than " + MAX_REDIRECTS + " redirects starting at " + row.url(), 0);
  }

  /** True when the file system refused a write for want of space (ENOSPC, or a quota: EDQUOT). */
  static boolean isNoSpace(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
        return true;
      }
    }
    return false;
  }

  /** A full disk under the part file: not retried; says where, how much the download needs and what to do. */
  private Fail noSpace() {
    long written = 0;
    try {
      written = Files.exists(part) ? Files.size(part) : 0;
    } catch (IOException ignored) {
      // the size only makes the message more precise
    }
    String need = expectedTotal >= 0 ? "free at least " + mib(expectedTotal) + " there" : "free space there";
    return new Fail(ErrorCode.INSUFFICIENT_SPACE, "no space left on the disk holding " + part.getParent() + " after " + mib(written)
        + (expectedTotal >= 0 ? " of " + mib(expectedTotal) : "") + " (the partial file is removed): " + need
        + ", or move the Tether home (--home or TETHER_HOME) to a bigger disk, then start the download again", 0);
  }

  /** Bytes as MiB with one decimal, for messages. */
  static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
  }

  private int lastChallengeStatus() {
    return row.status() == 407 ? 407 : 401;
  }

  private long copy(InputStream in, FileChannel ch, long have, LongConsumer progress) throws IOException {
    byte[] buf = BUFFERS.get();
    ByteBuffer bb = ByteBuffer.wrap(buf);
    long written = have;
    long sinceFlush = 0;
    Future<?> flush = null;
    try (in) {
      while (true) {
        if (stopped && (expectedTotal < 0 || written < expectedTotal)) {
          throw new InterruptedIOException("stopped"); // (once every byte is here, the body is kept and completes)
        }
        // fill the buffer as far as one read gives, then write it in one go
        int n = in.read(buf, 0, buf.length);
        if (n < 0) {
          break;
        }
        bb.clear().limit(n);
        while (bb.hasRemaining()) {
          ch.write(bb);
        }
        written += n;
        sinceFlush += n;
        progress.accept(written);
        if (sinceFlush >= FLUSH_EVERY && (flush == null || flush.isDone())) {
          // start writeback early so the final fsync is short (curl never syncs; we must)
          sinceFlush = 0;
          flush = flusher.submit(() -> {
            try {
              ch.force(false);
            } catch (IOException ignored) {
              // the final force reports real failures
            }
          });
        }
      }
    }
    if (flush != null) {
      try {
        flush.get();
      } catch (Exception ignored) {
        // the final force reports real failures
      }
    }
    return written;
  }

  private Outcome upload(String credential, LongConsumer progress, UploadResourceSink uploadResources) throws IOException, HttpException {
    URI url = URI.create(row.url());
    Path file = Path.of(row.uploadFile());
    if (!Files.isReadable(file)) {
      return new Fail(ErrorCode.FILE_NOT_FOUND, "the upload file " + file + " no longer exists or cannot be read", 0);
    }
    long size = Files.size(file);
    if (row.uploadResource() != null) {
      Outcome resumed = resumeUpload(URI.create(row.uploadResource()), file, size, credential, progress);
      if (resumed != null) {
        return resumed;
      }
      uploadResources.save(null); // the server no longer has it (or the file changed): start over
    }
    if (size >= RESUMABLE_UPLOAD_MIN) {
      URI created = createUploadResource(url, size, credential);
      if (created != null) {
        uploadResources.save(created.toString());
        Outcome appended = append(created, file, 0, size, credential, progress);
        if (appended != null) {
          return appended;
        }
        uploadResources.save(null);
      }
    }
    String method = row.method();
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      String problem = urlProblem(url, config.allowsPlainHttp());
      if (problem != null) {
        return new Fail(ErrorCode.INVALID_URL, "redirected to a URL that is not allowed: " + problem, 0);
      }
      HttpUriRequestBase req = newRequest(method, url, credential, lastChallengeStatus());
      req.setEntity(new FileBody(file, 0, Files.size(file), progress));
      try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(req), req, null)) {
        int code = resp.getCode();
        if ((code == 307 || code == 308) && resp.getFirstHeader("Location") != null) {
          url = resolve(url, resp.getFirstHeader("Location").getValue());
          if (url == null) {
            return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server redirected to an invalid Location", code);
          }
          continue;
        }
        Outcome early = classify(resp, code);
        if (early != null) {
          return early;
        }
        if (code >= 200 && code < 400) {
          discard(resp);
          return new Done(code, Files.size(file));
        }
        return new Fail(ErrorCode.HTTP_ERROR, "the server answered " + code + " " + resp.getReasonPhrase() + " for " + url, code);
      }
    }
    return new Fail(ErrorCode.HTTP_ERROR, "more than " + MAX_REDIRECTS + " redirects starting at " + row.url(), 0);
  }

  // ---- resumable uploads (draft-ietf-httpbis-resumable-upload, "careful upload creation": this blocking client
  // cannot read the 104 interim response while it sends a body, so it asks whether the target supports the protocol,
  // creates the upload resource with an empty request, then appends the file to it and, after an interruption, asks
  // for the offset and appends the rest)

  /**
   * Creates an upload resource for the transfer's target when the server says (OPTIONS, {@code Accept-Patch}) that it
   * takes resumable uploads there; null when it does not, or declines, so the upload goes the ordinary way.
   */
  private URI createUploadResource(URI url, long size, String credential) throws IOException, HttpException {
    HttpUriRequestBase options = newRequest("OPTIONS", url, credential, lastChallengeStatus());
    options.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
    try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(options), options, null)) {
      discard(resp);
      Header ap = resp.getFirstHeader("Accept-Patch");
      if (resp.getCode() / 100 != 2 || ap == null || !ap.getValue().toLowerCase(Locale.ROOT).contains("application/partial-upload")) {
        return null;
      }
    }
    URI target = url;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      HttpUriRequestBase create = newRequest(row.method(), target, credential, lastChallengeStatus());
      create.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
      create.setHeader("Upload-Complete", "?0");
      create.setHeader("Upload-Length", Long.toString(size));
      create.setEntity(new FileBody(Path.of(row.uploadFile()), 0, 0, b -> {}));
      try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(create), create, null)) {
        discard(resp);
        int code = resp.getCode();
        Header location = resp.getFirstHeader("Location");
        if ((code == 307 || code == 308) && location != null) {
          target = resolve(target, location.getValue());
          if (target == null || urlProblem(target, config.allowsPlainHttp()) != null) {
            return null;
          }
          continue;
        }
        if (code / 100 == 2 && location != null) {
          URI resource = resolve(target, location.getValue());
          return resource != null && urlProblem(resource, config.allowsPlainHttp()) == null ? resource : null;
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
  private Outcome resumeUpload(URI resource, Path file, long size, String credential, LongConsumer progress)
      throws IOException, HttpException {
    HttpUriRequestBase head = newRequest("HEAD", resource, credential, lastChallengeStatus());
    head.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
    long offset;
    boolean complete;
    long length;
    try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(head), head, null)) {
      discard(resp);
      int code = resp.getCode();
      if (code == 401 || code == 407 || retryable(code)) {
        return classify(resp, code);
      }
      offset = structuredInteger(resp, "Upload-Offset");
      complete = "?1".equals(headerValue(resp, "Upload-Complete"));
      length = structuredInteger(resp, "Upload-Length");
      if (code / 100 != 2 || offset < 0) {
        return null;
      }
    }
    if (complete && offset == size) {
      // the server has the whole file; only its final answer was lost (the protocol cannot give it again)
      return new Done(204, size);
    }
    if (complete || offset > size || (length >= 0 && length != size)) {
      cancelUploadResource(resource, credential);
      return null;
    }
    return append(resource, file, offset, size, credential, progress);
  }

  /**
   * Appends the file from {@code offset} to the upload resource and completes it. The server's final answer is the
   * transfer's outcome; null when the resource is gone (start over). A dropped connection is a retry that resumes.
   */
  private Outcome append(URI resource, Path file, long offset, long size, String credential, LongConsumer progress)
      throws IOException, HttpException {
    URI target = resource;
    long from = offset;
    for (int round = 0; round <= MAX_REDIRECTS; round++) {
      HttpUriRequestBase patch = newRequest("PATCH", target, credential, lastChallengeStatus());
      patch.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
      patch.setHeader("Upload-Offset", Long.toString(from));
      patch.setHeader("Upload-Complete", "?1");
      FileBody body = new FileBody(file, from, size - from, PARTIAL_UPLOAD, progress);
      patch.setEntity(body);
      try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(patch), patch, null)) {
        discard(resp);
        int code = resp.getCode();
        boolean finalAnswer = "?1".equals(headerValue(resp, "Upload-Complete"));
        if (code == 409 && !finalAnswer) {
          long expected = structuredInteger(resp, "Upload-Offset");
          if (expected < 0 || expected > size) {
            return null;
          }
          from = expected; // the server kept a different amount than we thought: continue from its offset
          continue;
        }
        if ((code == 307 || code == 308) && !finalAnswer && resp.getFirstHeader("Location") != null) {
          target = resolve(target, resp.getFirstHeader("Location").getValue());
          if (target == null) {
            return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server redirected an upload append to an invalid Location", code);
          }
          continue;
        }
        if ((code == 404 || code == 410) && !finalAnswer) {
          return null;
        }
        Outcome early = classify(resp, code);
        if (early != null) {
          return early;
        }
        if (code >= 200 && code < 400) {
          return new Done(code, size);
        }
        return new Fail(ErrorCode.HTTP_ERROR, "the server answered " + code + " " + resp.getReasonPhrase() + " for " + row.url(), code);
      } catch (IOException e) {
        if (stopped) {
          return new Stopped();
        }
        String m = e.getMessage();
        // the server keeps what it received: the next attempt asks for its offset and sends the rest
        return new Retry(null, e.getClass().getSimpleName() + (m == null ? "" : ": " + m), body.sent > 0, true);
      }
    }
    return new Fail(ErrorCode.HTTP_ERROR, "more than " + MAX_REDIRECTS + " redirects or offset corrections appending to " + resource, 0);
  }

  /** Best effort: tells the server it can drop an upload resource this transfer will not use again. */
  void cancelUploadResource(URI resource, String credential) {
    try {
      HttpUriRequestBase delete = newRequest("DELETE", resource, credential, lastChallengeStatus());
      delete.setHeader("Upload-Draft-Interop-Version", RESUMABLE_UPLOAD_INTEROP_VERSION);
      try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(delete), delete, null)) {
        discard(resp);
      }
    } catch (IOException | HttpException | RuntimeException e) {
      // the server expires abandoned upload resources by itself
    }
  }

  private static void discard(ClassicHttpResponse resp) throws IOException {
    if (resp.getEntity() != null) {
      try (InputStream in = resp.getEntity().getContent()) {
        in.transferTo(OutputStream.nullOutputStream());
      }
    }
  }

  private static String headerValue(ClassicHttpResponse resp, String name) {
    Header h = resp.getFirstHeader(name);
    return h == null ? null : h.getValue().trim();
  }

  /** A structured-field Integer header (RFC 8941), or -1 when missing or not a non-negative integer. */
  static long structuredInteger(ClassicHttpResponse resp, String name) {
    String v = headerValue(resp, name);
    if (v == null || v.isEmpty() || v.length() > 15) {
      return -1;
    }
    for (int i = 0; i < v.length(); i++) {
      if (v.charAt(i) < '0' || v.charAt(i) > '9') {
        return -1;
      }
    }
    return Long.parseLong(v);
  }

  /** Statuses that end or pause the attempt before any body: challenges, retryable errors. */
  private static Outcome classify(ClassicHttpResponse resp, int code) {
    if (code == 401 || code == 407) {
      Header h = resp.getFirstHeader(code == 401 ? "WWW-Authenticate" : "Proxy-Authenticate");
      String scheme = "Basic";
      String realm = null;
      if (h != null) {
        String v = h.getValue().trim();
        int sp = v.indexOf(' ');
        scheme = sp < 0 ? v : v.substring(0, sp);
        int r = v.toLowerCase(Locale.ROOT).indexOf("realm=");
        if (r >= 0) {
          String rest = v.substring(r + 6).trim();
          if (rest.startsWith("\"")) {
            int end = rest.indexOf('"', 1);
            realm = end > 0 ? rest.substring(1, end) : rest.substring(1);
          } else {
            int end = rest.indexOf(',');
            realm = end > 0 ? rest.substring(0, end) : rest;
          }
        }
      }
      return new Challenge(code, scheme, realm, code == 407);
    }
    if (retryable(code)) {
      return new Retry(retryAfter(resp), "the server answered " + code + " " + resp.getReasonPhrase(), false, false);
    }
    return null;
  }

  /**
   * Answers that may go away by themselves and are tried again (until the resource timeout): request timeout, too
   * many requests, and server errors except those that say the request itself can never work there (501 Not
   * Implemented, 505 HTTP Version Not Supported, 506 Variant Also Negotiates, 508 Loop Detected, 510 Not Extended),
   * which end the transfer at once like a 4xx.
   */
  static boolean retryable(int code) {
    return code == 408 || code == 429
        || code >= 500 && code != 501 && code != 505 && code != 506 && code != 508 && code != 510;
  }

  static Duration retryAfter(ClassicHttpResponse resp) {
    Header h = resp.getFirstHeader("Retry-After");
    if (h == null) {
      return null;
    }
    String v = h.getValue().trim();
    try {
      return Duration.ofSeconds(Math.max(0, Long.parseLong(v)));
    } catch (NumberFormatException e) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(ZonedDateTime.now(at.getZone()), at);
        return d.isNegative() ? Duration.ZERO : d;
      } catch (RuntimeException e2) {
        return null;
      }
    }
  }

  private static boolean isRedirect(int code) {
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
  }

  private static URI resolve(URI base, String location) {
    try {
      return base.resolve(new URI(location.trim()));
    } catch (URISyntaxException | IllegalArgumentException e) {
      return null;
    }
  }

  private static long contentRangeStart(ClassicHttpResponse resp) {
    Header h = resp.getFirstHeader("Content-Range");
    if (h == null) {
      return -1;
    }
    String v = h.getValue().trim();
    try {
      if (!v.startsWith("bytes ")) {
        return -1;
      }
      return Long.parseLong(v.substring(6, v.indexOf('-')).trim());
    } catch (RuntimeException e) {
      return -1;
    }
  }

  static boolean strong(String etag) {
    return etag != null && !etag.startsWith("W/");
  }

  /** A request body: {@code length} bytes of a file from {@code offset}, reporting the file position reached. */
  private static final class FileBody extends AbstractHttpEntity {
    private final Path file;
    private final long offset;
    private final long length;
    private final LongConsumer progress;
    volatile long sent;

    FileBody(Path file, long offset, long length, LongConsumer progress) {
      this(file, offset, length, ContentType.APPLICATION_OCTET_STREAM, progress);
    }

    FileBody(Path file, long offset, long length, ContentType type, LongConsumer progress) {
      super(type, null);
      this.file = file;
      this.offset = offset;
      this.length = length;
      this.progress = progress;
    }

    @Override
    public long getContentLength() {
      return length;
    }

    @Override
    public InputStream getContent() throws IOException {
      InputStream in = Files.newInputStream(file);
      in.skipNBytes(offset);
      return in;
    }

    @Override
    public boolean isRepeatable() {
      return true;
    }

    @Override
    public boolean isStreaming() {
      return false;
    }

    @Override
    public void writeTo(OutputStream out) throws IOException {
      byte[] buf = BUFFERS.get();
      long done = 0;
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        ch.position(offset);
        ByteBuffer bb = ByteBuffer.wrap(buf);
        while (done < length) {
          bb.clear().limit((int) Math.min(buf.length, length - done));
          int n = ch.read(bb);
          if (n < 0) {
            throw new IOException("the upload file " + file + " became shorter while it was being sent");
          }
          out.write(buf, 0, n);
          done += n;
          sent = done;
          progress.accept(offset + done);
        }
      }
    }

    @Override
    public void close() {}
  }
}
