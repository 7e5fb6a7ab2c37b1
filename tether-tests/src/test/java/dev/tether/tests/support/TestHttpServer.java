package dev.tether.tests.support;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small real HTTP/1.1 server for transfer tests (raw sockets, a thread per connection, keep-alive). It serves
 * generated files with ETag, Last-Modified and byte ranges, takes uploads, follows a script of faults per path (503
 * with Retry-After, a reset or a stall mid-body, a pause until released, garbage instead of HTTP), can require Basic
 * authentication and redirect, and records every request's headers.
 */
public final class TestHttpServer implements AutoCloseable {
  /** One request as the server saw it. */
  public record Request(String method, String path, Map<String, String> headers, long bodyBytes, String bodySha256, boolean complete,
      long atNanos) {
    Request(String method, String path, Map<String, String> headers, long bodyBytes, String bodySha256, boolean complete) {
      this(method, path, headers, bodyBytes, bodySha256, complete, System.nanoTime());
    }

    public String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  /** Something that goes wrong on one request (consumed in order, one per request of the path). */
  public sealed interface Fault {}

  /** Answer 503 with {@code Retry-After: seconds}. */
  public record Unavailable(int retryAfterSeconds) implements Fault {}

  /** Answers one request with this status and an empty body (no Retry-After). */
  public record Answer(int status, String reason) implements Fault {}

  /** Send (or read) this many body bytes, then reset the connection. */
  public record ResetAfter(long bytes) implements Fault {}

  /** Send (or read) this many body bytes, then go silent for {@code stall}, then close. */
  public record StallAfter(long bytes, Duration stall) implements Fault {}

  /** Send (or read) this many body bytes, then wait until {@code release} opens, then continue. */
  public record PauseAfter(long bytes, CountDownLatch release) implements Fault {}

  /** Answer bytes that are not HTTP, then close. */
  public record Garbage() implements Fault {}

  /** Send this many body bytes, wait until {@code release} opens, then reset the connection (counted in {@code paused}). */
  public record PauseThenReset(long bytes, CountDownLatch release) implements Fault {}

  /** A generated file served at a path. */
  public final class Resource {
    private volatile GeneratedContent content;
    private volatile String etag;
    private volatile String lastModified = "Sun, 22 Nov 2026 00:00:00 GMT";
    final Deque<Fault> faults = new ConcurrentLinkedDeque<>();
    volatile String basicAuth;
    volatile boolean ranges = true;
    volatile long bytesPerSecond;
    final AtomicLong bytesServed = new AtomicLong();
    final AtomicInteger paused = new AtomicInteger();
    final AtomicInteger completed = new AtomicInteger();

    Resource(GeneratedContent content) {
      replace(content);
    }

    /** Replaces the content (and with it the ETag and Last-Modified). */
    public Resource replace(GeneratedContent c) {
      this.content = c;
      this.etag = "\"g" + c.seed() + "-" + c.size() + "\"";
      this.lastModified = "Sun, 22 Nov 2026 00:00:" + String.format("%02d", Math.floorMod(c.seed(), 60)) + " GMT";
      return this;
    }

    public GeneratedContent content() {
      return content;
    }

    public String etag() {
      return etag;
    }

    public Resource fault(Fault f) {
      faults.add(f);
      return this;
    }

    public Resource requireBasicAuth(String user, String password) {
      this.basicAuth = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
      return this;
    }

    public Resource noRanges() {
      this.ranges = false;
      return this;
    }

    /** Sends each response's body at no more than this rate (so that transfers are still running when a test strikes). */
    public Resource throttle(long bytesPerSecond) {
      this.bytesPerSecond = bytesPerSecond;
      return this;
    }

    public long bytesServed() {
      return bytesServed.get();
    }

    /** How many responses paused on a {@link PauseAfter} so far. */
    public int paused() {
      return paused.get();
    }

    /** How many full bodies (or remaining ranges) were sent to the end. */
    public int completed() {
      return completed.get();
    }
  }

  /**
   * An upload target: records each body's size and SHA-256. A resumable one also speaks the IETF resumable-upload
   * protocol (draft-ietf-httpbis-resumable-upload, interop version 8) as a server that cannot send interim responses:
   * OPTIONS announces it, a creation request with {@code Upload-Complete: ?0} makes an upload resource under
   * {@code /uploads/}, HEAD tells its offset, PATCH appends (keeping whatever arrived before a connection dropped) and
   * completes it, DELETE drops it. Faults apply to the requests that carry body bytes.
   */
  public final class UploadSink {
    final boolean resumable;
    final Deque<Fault> faults = new ConcurrentLinkedDeque<>();
    final List<String> received = Collections.synchronizedList(new ArrayList<>());
    final AtomicLong bytesRead = new AtomicLong();
    final AtomicInteger paused = new AtomicInteger();

    public UploadSink fault(Fault f) {
      faults.add(f);
      return this;
    }

    /** SHA-256 of every body received in full. */
    public List<String> received() {
      return List.copyOf(received);
    }

    public long bytesRead() {
      return bytesRead.get();
    }

    public int paused() {
      return paused.get();
    }

    UploadSink(boolean resumable) {
      this.resumable = resumable;
    }

    /** Forgets every upload resource of this target, as a server that lost its state (HEAD and PATCH then get 404). */
    public void forgetUploadResources() {
      uploadResources.values().removeIf(u -> u.sink == this);
    }
  }

  /** The server side of one resumable upload. */
  private static final class UploadResource {
    final UploadSink sink;
    final long length;
    final MessageDigest digest;
    long offset;
    boolean complete;

    UploadResource(UploadSink sink, long length) {
      this.sink = sink;
      this.length = length;
      try {
        this.digest = MessageDigest.getInstance("SHA-256");
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private final ServerSocket server;
  private final Map<String, Resource> files = new ConcurrentHashMap<>();
  private final Map<String, UploadSink> uploads = new ConcurrentHashMap<>();
  private final Map<String, String> redirects = new ConcurrentHashMap<>();
  private final Map<String, UploadResource> uploadResources = new ConcurrentHashMap<>();
  private final AtomicInteger uploadResourceIds = new AtomicInteger();
  private final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
  private final List<Socket> sockets = Collections.synchronizedList(new ArrayList<>());
  private volatile boolean closed;

  public TestHttpServer() throws IOException {
    this(InetAddress.getLoopbackAddress());
  }

  /** A server listening on {@code address} (another loopback address, such as 127.0.0.2 or ::1), on an ephemeral port. */
  public TestHttpServer(InetAddress address) throws IOException {
    server = new ServerSocket();
    server.bind(new InetSocketAddress(address, 0), 128);
    Thread t = new Thread(this::acceptLoop, "test-http-accept");
    t.setDaemon(true);
    t.start();
  }

  public URI url(String path) {
    return URI.create("http://127.0.0.1:" + server.getLocalPort() + path);
  }

  public int port() {
    return server.getLocalPort();
  }

  public Resource file(String path, long size, long seed) {
    Resource r = new Resource(new GeneratedContent(seed, size));
    files.put(path, r);
    return r;
  }

  /** A target that takes uploads the ordinary way (one request with the whole body). */
  public UploadSink upload(String path) {
    UploadSink u = new UploadSink(false);
    uploads.put(path, u);
    return u;
  }

  /** A target that also takes resumable uploads (see {@link UploadSink}). */
  public UploadSink resumableUpload(String path) {
    UploadSink u = new UploadSink(true);
    uploads.put(path, u);
    return u;
  }

  public void redirect(String from, String to) {
    redirects.put(from, to);
  }

  public List<Request> requests() {
    synchronized (requests) {
      return List.copyOf(requests);
    }
  }

  public List<Request> requests(String path) {
    return requests().stream().filter(r -> r.path().equals(path)).toList();
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket s = server.accept();
        sockets.add(s);
        Thread t = new Thread(() -> serve(s), "test-http-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serve(Socket s) {
    try (s) {
      s.setTcpNoDelay(true);
      InputStream in = new BufferedInputStream(s.getInputStream(), 64 * 1024);
      OutputStream out = s.getOutputStream();
      while (!closed) {
        String line = readLine(in);
        if (line == null) {
          return;
        }
        if (line.isEmpty()) {
          continue;
        }
        String[] parts = line.split(" ");
        if (parts.length < 3) {
          return;
        }
        Map<String, String> headers = new LinkedHashMap<>();
        String h;
        while ((h = readLine(in)) != null && !h.isEmpty()) {
          int c = h.indexOf(':');
          if (c > 0) {
            headers.put(h.substring(0, c).trim().toLowerCase(Locale.ROOT), h.substring(c + 1).trim());
          }
        }
        if (!handle(s, in, out, parts[0], parts[1], headers)) {
          return;
        }
      }
    } catch (IOException | InterruptedException e) {
      // connection ended
    } finally {
      sockets.remove(s);
    }
  }

  /** Handles one request; false when the connection must close. */
  private boolean handle(Socket s, InputStream in, OutputStream out, String method, String path, Map<String, String> headers)
      throws IOException, InterruptedException {
    String to = redirects.get(path);
    if (to != null) {
      drainBody(in, headers);
      requests.add(new Request(method, path, headers, 0, null, true));
      write(out, "HTTP/1.1 302 Found\r\nLocation: " + to + "\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    UploadSink sink = uploads.get(path);
    if (sink != null && sink.resumable && method.equals("OPTIONS")) {
      drainBody(in, headers);
      requests.add(new Request(method, path, headers, 0, null, true));
      write(out, "HTTP/1.1 204 No Content\r\nAccept-Patch: application/partial-upload\r\nUpload-Limit: max-size=1073741824\r\n\r\n");
      return true;
    }
    if (sink != null && sink.resumable && (method.equals("PUT") || method.equals("POST")) && "?0".equals(headers.get("upload-complete"))) {
      drainBody(in, headers);
      requests.add(new Request(method, path, headers, 0, null, true));
      long length = Long.parseLong(headers.getOrDefault("upload-length", "-1"));
      String where = "/uploads/" + uploadResourceIds.incrementAndGet();
      uploadResources.put(where, new UploadResource(sink, length));
      write(out, "HTTP/1.1 201 Created\r\nLocation: " + where + "\r\nUpload-Complete: ?0\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    if (sink != null && (method.equals("PUT") || method.equals("POST"))) {
      return receive(s, in, out, method, path, headers, sink);
    }
    if (path.startsWith("/uploads/")) {
      return uploadResource(s, in, out, method, path, headers);
    }
    Resource r = files.get(path);
    if (r == null || !method.equals("GET")) {
      drainBody(in, headers);
      requests.add(new Request(method, path, headers, 0, null, true));
      write(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    requests.add(new Request(method, path, headers, 0, null, true));
    if (r.basicAuth != null && !r.basicAuth.equals(headers.get("authorization"))) {
      write(out, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"tether-test\"\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    Fault f = r.faults.poll();
    if (f instanceof Unavailable u) {
      write(out, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + u.retryAfterSeconds() + "\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    if (f instanceof Answer a) {
      write(out, "HTTP/1.1 " + a.status() + " " + a.reason() + "\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    if (f instanceof Garbage) {
      write(out, "THIS IS NOT HTTP AT ALL\r\n\u0000\u0001\u0002 garbage\r\n\r\n");
      return false;
    }
    GeneratedContent c = r.content;
    String etag = r.etag;
    long start = 0;
    String range = headers.get("range");
    String ifRange = headers.get("if-range");
    if (r.ranges && range != null && range.startsWith("bytes=") && range.endsWith("-")
        && (ifRange == null || ifRange.equals(etag) || ifRange.equals(r.lastModified))) {
      start = Long.parseLong(range.substring(6, range.length() - 1));
    }
    long size = c.size();
    if (r.ranges && range != null && range.startsWith("bytes=") && range.endsWith("-") && start >= size
        && (ifRange == null || ifRange.equals(etag) || ifRange.equals(r.lastModified))) {
      // RFC 9110 §15.5.17: a range starting at or past the end cannot be satisfied (what nginx answers too)
      write(out, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" + size + "\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    StringBuilder head = new StringBuilder();
    if (start > 0 && start < size) {
      head.append("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ").append(start).append('-').append(size - 1).append('/').append(size).append("\r\n");
    } else {
      start = 0;
      head.append("HTTP/1.1 200 OK\r\n");
    }
    head.append("Content-Length: ").append(size - start).append("\r\nETag: ").append(etag).append("\r\nLast-Modified: ")
        .append(r.lastModified).append("\r\nContent-Type: application/octet-stream\r\n");
    if (r.ranges) {
      head.append("Accept-Ranges: bytes\r\n");
    }
    head.append("\r\n");
    write(out, head.toString());
    byte[] block = new byte[GeneratedContent.BLOCK];
    long sent = 0;
    long pos = start;
    long began = System.nanoTime();
    while (pos < size) {
      long rate = r.bytesPerSecond;
      if (rate > 0) {
        long due = began + sent * 1_000_000_000L / rate;
        long wait = due - System.nanoTime();
        if (wait > 0) {
          out.flush();
          TimeUnit.NANOSECONDS.sleep(wait);
        }
      }
      long k = pos / GeneratedContent.BLOCK;
      int len = c.block(k, block);
      int off = (int) (pos - k * GeneratedContent.BLOCK);
      int n = len - off;
      if (f != null) {
        long limit = f instanceof ResetAfter ra ? ra.bytes() : f instanceof StallAfter sa ? sa.bytes()
            : f instanceof PauseThenReset pr ? pr.bytes() : ((PauseAfter) f).bytes();
        if (sent + n >= limit) {
          int part = (int) (limit - sent);
          out.write(block, off, part);
          out.flush();
          r.bytesServed.addAndGet(part);
          sent += part;
          pos += part;
          off += part;
          n -= part;
          if (f instanceof ResetAfter) {
            s.setSoLinger(true, 0);
            return false;
          }
          if (f instanceof PauseThenReset pr) {
            r.paused.incrementAndGet();
            pr.release().await(120, TimeUnit.SECONDS);
            s.setSoLinger(true, 0);
            return false;
          }
          if (f instanceof StallAfter sa) {
            Thread.sleep(sa.stall().toMillis());
            return false;
          }
          PauseAfter pa = (PauseAfter) f;
          r.paused.incrementAndGet();
          pa.release().await(120, TimeUnit.SECONDS);
          f = null;
          if (n == 0) {
            continue;
          }
        }
      }
      out.write(block, off, n);
      r.bytesServed.addAndGet(n);
      sent += n;
      pos += n;
    }
    out.flush();
    r.completed.incrementAndGet();
    return true;
  }

  private boolean receive(Socket s, InputStream in, OutputStream out, String method, String path, Map<String, String> headers,
      UploadSink sink) throws IOException, InterruptedException {
    long length = Long.parseLong(headers.getOrDefault("content-length", "0"));
    Fault f = sink.faults.poll();
    if (f instanceof Unavailable u) {
      requests.add(new Request(method, path, headers, 0, null, false));
      write(out, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + u.retryAfterSeconds() + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return false;
    }
    if (f instanceof Answer a) {
      requests.add(new Request(method, path, headers, 0, null, false));
      write(out, "HTTP/1.1 " + a.status() + " " + a.reason() + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return false;
    }
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long got = readBody(s, in, length, f, sink, md::update);
    if (got < 0 || got < length) {
      requests.add(new Request(method, path, headers, got < 0 ? -got - 1 : got, null, false));
      return false;
    }
    String sha = HexFormat.of().formatHex(md.digest());
    requests.add(new Request(method, path, headers, got, sha, true));
    sink.received.add(sha);
    write(out, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    return true;
  }

  /** HEAD, PATCH or DELETE on an upload resource. */
  private boolean uploadResource(Socket s, InputStream in, OutputStream out, String method, String path, Map<String, String> headers)
      throws IOException, InterruptedException {
    UploadResource u = uploadResources.get(path);
    if (u == null) {
      drainBody(in, headers);
      requests.add(new Request(method, path, headers, 0, null, true));
      write(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    synchronized (u) {
      switch (method) {
        case "HEAD" -> {
          requests.add(new Request(method, path, headers, 0, null, true));
          write(out, "HTTP/1.1 204 No Content\r\nUpload-Offset: " + u.offset + "\r\nUpload-Complete: " + (u.complete ? "?1" : "?0")
              + (u.length >= 0 ? "\r\nUpload-Length: " + u.length : "") + "\r\nCache-Control: no-store\r\n\r\n");
          return true;
        }
        case "DELETE" -> {
          drainBody(in, headers);
          requests.add(new Request(method, path, headers, 0, null, true));
          uploadResources.remove(path);
          write(out, "HTTP/1.1 204 No Content\r\n\r\n");
          return true;
        }
        case "PATCH" -> {
          long at = Long.parseLong(headers.getOrDefault("upload-offset", "-1"));
          long length = Long.parseLong(headers.getOrDefault("content-length", "0"));
          if (at != u.offset || u.complete || !"application/partial-upload".equals(headers.get("content-type"))) {
            drainBody(in, headers);
            requests.add(new Request(method, path, headers, 0, null, true));
            write(out, "HTTP/1.1 409 Conflict\r\nUpload-Offset: " + u.offset + "\r\nContent-Length: 0\r\n\r\n");
            return true;
          }
          long got = readBody(s, in, length, u.sink.faults.poll(), u.sink, (b, off, n) -> {
            u.digest.update(b, off, n);
            u.offset += n;
          });
          if (got < 0 || got < length) {
            requests.add(new Request(method, path, headers, got < 0 ? -got - 1 : got, null, false));
            return false; // what arrived stays appended: the client resumes from the offset
          }
          requests.add(new Request(method, path, headers, got, null, true));
          if ("?1".equals(headers.get("upload-complete"))) {
            u.complete = true;
            String sha = HexFormat.of().formatHex(u.digest.digest());
            u.sink.received.add(sha);
            write(out, "HTTP/1.1 201 Created\r\nUpload-Complete: ?1\r\nContent-Length: 0\r\n\r\n");
          } else {
            write(out, "HTTP/1.1 204 No Content\r\nUpload-Complete: ?0\r\n\r\n");
          }
          return true;
        }
        default -> {
          drainBody(in, headers);
          requests.add(new Request(method, path, headers, 0, null, true));
          write(out, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
          return true;
        }
      }
    }
  }

  /** Where request body bytes go as they arrive. */
  private interface BodySink {
    void accept(byte[] b, int off, int n);
  }

  /**
   * Reads up to {@code length} body bytes into {@code to}, applying the upload fault {@code f} (a pause, or a reset
   * after so many bytes); returns how many arrived, less than {@code length} when the connection ended, or
   * {@code -arrived - 1} when the fault reset it.
   */
  private static long readBody(Socket s, InputStream in, long length, Fault f, UploadSink sink, BodySink to)
      throws IOException, InterruptedException {
    byte[] buf = new byte[64 * 1024];
    long got = 0;
    while (got < length) {
      int want = (int) Math.min(buf.length, length - got);
      // never read past a pause or reset point, so the fault strikes at exactly that byte
      long at = f instanceof PauseAfter pa ? pa.bytes() : f instanceof ResetAfter ra ? ra.bytes() : Long.MAX_VALUE;
      if (got + want >= at) {
        want = (int) Math.max(1, at - got);
      }
      int n;
      try {
        n = in.read(buf, 0, want);
      } catch (IOException e) {
        n = -1; // reset by the client
      }
      if (n < 0) {
        return got;
      }
      to.accept(buf, 0, n);
      got += n;
      sink.bytesRead.addAndGet(n);
      if (f instanceof PauseAfter pa && got >= pa.bytes()) {
        sink.paused.incrementAndGet();
        pa.release().await(120, TimeUnit.SECONDS);
        f = null;
      } else if (f instanceof ResetAfter ra && got >= ra.bytes()) {
        s.setSoLinger(true, 0);
        return -got - 1;
      }
    }
    return got;
  }

  private static void drainBody(InputStream in, Map<String, String> headers) throws IOException {
    long length = Long.parseLong(headers.getOrDefault("content-length", "0"));
    in.skipNBytes(length);
  }

  private static void write(OutputStream out, String s) throws IOException {
    out.write(s.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int b;
    while ((b = in.read()) >= 0) {
      if (b == '\n') {
        int len = sb.length();
        if (len > 0 && sb.charAt(len - 1) == '\r') {
          sb.setLength(len - 1);
        }
        return sb.toString();
      }
      sb.append((char) b);
      if (sb.length() > 16384) {
        throw new IOException("header line too long");
      }
    }
    return sb.length() == 0 ? null : sb.toString();
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    synchronized (sockets) {
      for (Socket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing anyway
        }
      }
    }
  }
}
