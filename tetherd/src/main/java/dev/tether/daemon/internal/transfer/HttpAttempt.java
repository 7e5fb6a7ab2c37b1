package dev.tether.daemon.internal.transfer;

import dev.tether.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
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
import org.apache.hc.client5.http.classic.methods.HttpGet;
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
  /** One 1 MiB buffer per worker thread, reused by every attempt it runs (a thousand small files allocate nothing). */
  private static final ThreadLocal<byte[]> BUFFERS = ThreadLocal.withInitial(() -> new byte[BUFFER]);
  private static final int MAX_REDIRECTS = 10;
  private static final long FLUSH_EVERY = Long.getLong("tether.flushEvery", 64L << 20);

  sealed interface Outcome {}

  /** The transfer finished: body in the part file (downloads) or accepted by the server (uploads). */
  record Done(int status, long bytes) implements Outcome {}

  /** Worth trying again: after {@code retryAfter} if the server said so, else after the back-off. */
  record Retry(Duration retryAfter, String reason, boolean madeProgress) implements Outcome {}

  /** Final failure. */
  record Fail(ErrorCode code, String message, int status) implements Outcome {}

  /** 401 or 407: wait for the app's answer. */
  record Challenge(int status, String scheme, String realm, boolean proxy) implements Outcome {}

  /** Stopped from outside (suspend, cancel, shutdown). */
  record Stopped() implements Outcome {}

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
      return "plain HTTP to " + url.getHost() + " is not allowed; use https:// or set allowsPlainHttp(true) on the session configuration";
    }
    return null;
  }

  static boolean isLoopback(String host) {
    String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    if (h.equalsIgnoreCase("localhost") || h.toLowerCase(Locale.ROOT).endsWith(".localhost")) {
      return true;
    }
    boolean dotted = !h.isEmpty();
    for (int i = 0; i < h.length() && dotted; i++) {
      char ch = h.charAt(i);
      dotted = (ch >= '0' && ch <= '9') || ch == '.';
    }
    if (!dotted && !h.contains(":")) {
      return false; // a name other than localhost: do not resolve here, treat as not loopback
    }
    if (dotted && h.startsWith("127.")) {
      return true; // 127.0.0.0/8 (a malformed address fails later, when it is connected to)
    }
    try {
      return InetAddress.getByName(h).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  Outcome run(String credential, LongConsumer progress, ValidatorSink validators) {
    try {
      return row.isDownload() ? download(credential, progress, validators) : upload(credential, progress);
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
      return new Retry(null, e.getClass().getSimpleName() + (m == null ? "" : ": " + m), false);
    } finally {
      current = null;
    }
  }

  private HttpUriRequestBase newRequest(String method, URI url, String credential, int challengeStatus) {
    HttpUriRequestBase req = switch (method) {
      case "GET" -> new HttpGet(url);
      case "PUT" -> new HttpPut(url);
      case "POST" -> new HttpPost(url);
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
            return new Retry(null, "the body ended after " + written + " of " + total + " bytes", written > startBytes);
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
        return new Retry(null, e.getClass().getSimpleName() + (m == null ? "" : ": " + m), now > startBytes);
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

  private Outcome upload(String credential, LongConsumer progress) throws IOException, HttpException {
    URI url = URI.create(row.url());
    Path file = Path.of(row.uploadFile());
    if (!Files.isReadable(file)) {
      return new Fail(ErrorCode.FILE_NOT_FOUND, "the upload file " + file + " no longer exists or cannot be read", 0);
    }
    String method = row.method();
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      String problem = urlProblem(url, config.allowsPlainHttp());
      if (problem != null) {
        return new Fail(ErrorCode.INVALID_URL, "redirected to a URL that is not allowed: " + problem, 0);
      }
      HttpUriRequestBase req = newRequest(method, url, credential, lastChallengeStatus());
      req.setEntity(new FileBody(file, progress));
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
          if (resp.getEntity() != null) {
            try (InputStream in = resp.getEntity().getContent()) {
              in.transferTo(OutputStream.nullOutputStream());
            }
          }
          return new Done(code, Files.size(file));
        }
        return new Fail(ErrorCode.HTTP_ERROR, "the server answered " + code + " " + resp.getReasonPhrase() + " for " + url, code);
      }
    }
    return new Fail(ErrorCode.HTTP_ERROR, "more than " + MAX_REDIRECTS + " redirects starting at " + row.url(), 0);
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
    if (code == 408 || code == 429 || code >= 500) {
      return new Retry(retryAfter(resp), "the server answered " + code + " " + resp.getReasonPhrase(), false);
    }
    return null;
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

  /** A file request body that reports bytes sent. */
  private static final class FileBody extends AbstractHttpEntity {
    private final Path file;
    private final LongConsumer progress;

    FileBody(Path file, LongConsumer progress) {
      super(ContentType.APPLICATION_OCTET_STREAM, null);
      this.file = file;
      this.progress = progress;
    }

    @Override
    public long getContentLength() {
      try {
        return Files.size(file);
      } catch (IOException e) {
        return -1;
      }
    }

    @Override
    public InputStream getContent() throws IOException {
      return Files.newInputStream(file);
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
      long sent = 0;
      try (InputStream in = Files.newInputStream(file)) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          out.write(buf, 0, n);
          sent += n;
          progress.accept(sent);
        }
      }
    }

    @Override
    public void close() {}
  }
}
