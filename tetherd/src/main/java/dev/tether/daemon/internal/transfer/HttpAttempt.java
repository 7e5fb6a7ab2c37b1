package dev.tether.daemon.internal.transfer;

import dev.tether.protocol.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
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
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.util.Timeout;

/**
 * Runs on the attempt's worker ({@code tether-transfer}), blocking; {@link #stop()} aborts it from another thread. One
 * attempt at one transfer: a request (following redirects), the body streamed socket to file (downloads) or file to
 * socket (uploads, the resumable-upload protocol in {@link ResumableUpload}) through a 1 MiB buffer, and an
 * {@link Outcome} saying what the service should do next.
 */
final class HttpAttempt {
  static final int BUFFER = 1 << 20;
  /** Uploads smaller than this restart from zero rather than pay the two extra round trips of a resumable upload. */
  static final long RESUMABLE_UPLOAD_MIN = Long.getLong("tether.resumableUploadMin", 1L << 20);
  /** One 1 MiB buffer per worker thread, reused by every attempt it runs (a thousand small files allocate nothing). */
  private static final ThreadLocal<byte[]> BUFFERS = ThreadLocal.withInitial(() -> new byte[BUFFER]);
  static final int MAX_REDIRECTS = 10;
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
  /** The URL of the request last sent (a redirect's target once followed): what a connection failure names. */
  private volatile URI target;
  private final ResumableUpload resumable;

  HttpAttempt(CloseableHttpClient http, TransferRow row, SessionConfig config, Path part, ExecutorService flusher) {
    this.http = http;
    this.row = row;
    this.config = config;
    this.part = part;
    this.flusher = flusher;
    this.resumable = new ResumableUpload(this, row, config);
  }

  /** The one 1 MiB buffer of the calling worker thread. */
  static byte[] buffer() {
    return BUFFERS.get();
  }

  /** A request of this attempt (session and transfer headers, credential, timeouts), stopped with it. */
  HttpUriRequestBase request(String method, URI url, String credential) {
    return newRequest(method, url, credential, lastChallengeStatus());
  }

  /** Sends a request of this attempt; the caller closes the response. */
  ClassicHttpResponse execute(HttpUriRequestBase req) throws IOException, HttpException {
    return http.executeOpen(RoutingSupport.determineHost(req), req, null);
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
      return url.getRawAuthority() != null && url.getRawAuthority().contains(":")
          ? "URL '" + url + "' is not host:port with a port from 1 to 65535"
          : "URL '" + url + "' has no host";
    }
    if (url.getPort() == 0 || url.getPort() > 65535) {
      return "URL '" + url + "' has port " + url.getPort() + "; a port is from 1 to 65535";
    }
    if (scheme.equals("http") && !allowsPlainHttp && !isLoopback(url.getHost())) {
      return "plain HTTP to " + url.getHost() + " is not allowed; use https://, or allow it with allowsPlainHttp(true) on the"
          + " session configuration (tether download/upload: --allow-plain-http)";
    }
    return null;
  }

  /**
   * Why an attempt's connection failed, in words a user acts on (connection refused, host not found, ...), naming the
   * host and port; other failures keep the exception's class and message.
   */
  static String transportProblem(IOException e, URI url) {
    String m = e.getMessage();
    String where = url == null || url.getHost() == null ? "the server" : url.getHost() + ":" + port(url);
    if (e instanceof java.net.UnknownHostException) {
      return "host not found: " + (url == null || url.getHost() == null ? m : url.getHost());
    }
    if (e instanceof java.net.NoRouteToHostException) {
      return "no route to " + where;
    }
    if (e instanceof java.net.ConnectException) {
      return m != null && m.toLowerCase(Locale.ROOT).contains("refused")
          ? "connection refused by " + where : "cannot connect to " + where + (m == null ? "" : ": " + m);
    }
    if (e instanceof org.apache.hc.client5.http.ConnectTimeoutException) {
      return "no connection to " + where + " in time (" + m + ")";
    }
    return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }

  private static int port(URI url) {
    return url.getPort() > 0 ? url.getPort() : "https".equalsIgnoreCase(url.getScheme()) ? 443 : 80;
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
      return new Retry(null, transportProblem(e, target), false, true);
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
    target = url;
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
    boolean tryRange = have > 0 && row.acceptRanges() && (HttpResponses.strong(etag) || lastModified != null);
    long startBytes = have;
    for (int hop = 0; hop <= MAX_REDIRECTS + 2; hop++) {
      String problem = urlProblem(url, config.allowsPlainHttp());
      if (problem != null) {
        return new Fail(ErrorCode.INVALID_URL, "redirected to a URL that is not allowed: " + problem, 0);
      }
      HttpUriRequestBase req = newRequest("GET", url, credential, row.challengeCount() > 0 ? lastChallengeStatus() : 401);
      if (tryRange) {
        req.setHeader("Range", "bytes=" + have + "-");
        req.setHeader("If-Range", HttpResponses.strong(etag) ? etag : lastModified);
      }
      try (ClassicHttpResponse resp = http.executeOpen(RoutingSupport.determineHost(req), req, null)) {
        int code = resp.getCode();
        if (HttpResponses.isRedirect(code) && resp.getFirstHeader("Location") != null) {
          url = HttpResponses.resolve(url, resp.getFirstHeader("Location").getValue());
          if (url == null) {
            return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server redirected to an invalid Location", code);
          }
          continue;
        }
        Outcome early = HttpResponses.classify(resp, code);
        if (early != null) {
          return early;
        }
        boolean restarted;
        if (code == 206 && tryRange) {
          long start = HttpResponses.contentRangeStart(resp);
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
        return new Retry(null, transportProblem(e, target), now > startBytes, true);
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
      Outcome resumed = resumable.resume(URI.create(row.uploadResource()), file, size, credential, progress);
      if (resumed != null) {
        return resumed;
      }
      uploadResources.save(null); // the server no longer has it (or the file changed): start over
    }
    if (size >= RESUMABLE_UPLOAD_MIN) {
      URI created = resumable.create(url, size, credential);
      if (created != null) {
        uploadResources.save(created.toString());
        Outcome appended = resumable.append(created, file, 0, size, credential, progress);
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
          url = HttpResponses.resolve(url, resp.getFirstHeader("Location").getValue());
          if (url == null) {
            return new Fail(ErrorCode.BAD_SERVER_RESPONSE, "the server redirected to an invalid Location", code);
          }
          continue;
        }
        Outcome early = HttpResponses.classify(resp, code);
        if (early != null) {
          return early;
        }
        if (code >= 200 && code < 400) {
          HttpResponses.discard(resp);
          return new Done(code, Files.size(file));
        }
        return new Fail(ErrorCode.HTTP_ERROR, "the server answered " + code + " " + resp.getReasonPhrase() + " for " + url, code);
      }
    }
    return new Fail(ErrorCode.HTTP_ERROR, "more than " + MAX_REDIRECTS + " redirects starting at " + row.url(), 0);
  }

  /** Best effort: tells the server it can drop an upload resource this transfer will not use again. */
  void cancelUploadResource(URI resource, String credential) {
    resumable.cancel(resource, credential);
  }
}
