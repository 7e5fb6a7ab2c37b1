package dev.tether.daemon.internal.link;

import dev.tether.daemon.internal.Threads;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.LinkFrame;
import dev.tether.protocol.wire.PeerFrameType;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One mutually authenticated TLS connection to a paired peer, carrying {@link FrameCodec} frames: a reader thread
 * ({@code tether-link-in-}) hands each frame to the {@link Handler}, a writer thread ({@code tether-link-out-}) sends
 * what any thread queues with {@link #send}, and the link timer ({@code tether-link-timers}) runs the heartbeat. A frame whose body
 * has {@code "attach": n} is followed on the stream by {@code n} raw bytes (file chunks travel this way, without
 * base64). Small frames go through one writer thread that flushes when it runs dry; bulk writers call
 * {@link #sendNow} and block on the socket instead. Both sides send a ping every heartbeat interval; a peer silent
 * for {@code deadAfterMillis} is treated as dead and the connection is closed.
 */
public final class PeerLink {
  private static final Logger log = LoggerFactory.getLogger(PeerLink.class);
  private static final Object CLOSE = new Object();

  /** What a link reports to its owner. */
  public interface Handler {
    void frame(PeerLink link, Frame frame, byte[] attachment) throws Exception;

    /**
     * A buffer of at least {@code length} bytes to read {@code frame}'s attachment into (it is then passed to
     * {@link #frame}); the attachment's length is the frame's {@code "attach"}. Lets bulk receivers reuse buffers.
     */
    default byte[] attachmentBuffer(PeerLink link, Frame frame, int length) throws InterruptedException {
      return new byte[length];
    }

    void closed(PeerLink link);
  }

  private final SSLSocket socket;
  /** The TCP socket under {@link #socket} when it gathers TLS records (see {@link BatchingSocket}), else null. */
  private final BatchingSocket transport;
  private final String peer;
  private final Handler handler;
  private final FrameCodec codec = FrameCodec.keepingPayloadText();
  private final DataInputStream in;
  private final OutputStream out;
  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final AtomicBoolean open = new AtomicBoolean(true);
  private final ScheduledFuture<?> heartbeat;
  private final long deadAfterMillis;
  private volatile long lastHeard = System.nanoTime();

  PeerLink(SSLSocket socket, DataInputStream in, String peer, Handler handler, ScheduledExecutorService timers,
      long heartbeatMillis, long deadAfterMillis) throws IOException {
    this(socket, null, in, peer, handler, timers, heartbeatMillis, deadAfterMillis);
  }

  PeerLink(SSLSocket socket, BatchingSocket transport, DataInputStream in, String peer, Handler handler,
      ScheduledExecutorService timers, long heartbeatMillis, long deadAfterMillis) throws IOException {
    this.socket = socket;
    this.transport = transport;
    if (transport != null) {
      transport.holdRecords();
    }
    this.peer = peer;
    this.handler = handler;
    this.in = in;
    this.out = new BufferedOutputStream(socket.getOutputStream(), 256 * 1024);
    this.deadAfterMillis = deadAfterMillis;
    socket.setSoTimeout(0);
    Threads.start("tether-link-out-" + peer.substring(0, 8), this::writeLoop);
    this.heartbeat = timers.scheduleWithFixedDelay(this::beat, heartbeatMillis, heartbeatMillis, TimeUnit.MILLISECONDS);
  }

  void startReading() {
    Threads.start("tether-link-in-" + peer.substring(0, 8), this::readLoop);
  }

  /** The fingerprint of the peer's pinned certificate. */
  public String peer() {
    return peer;
  }

  public boolean isOpen() {
    return open.get();
  }

  /** Queues a frame; dropped silently once the link closed (the outbox resends what was not acknowledged). */
  public void send(PeerFrameType type, ObjectNode body) {
    send(type.wire(), body);
  }

  /** Writes a frame with raw bytes attached; see {@link #sendNow(String, ObjectNode, byte[], int, int)}. */
  public void sendNow(PeerFrameType type, ObjectNode body, byte[] data, int off, int len) throws IOException {
    sendNow(type.wire(), body, data, off, len);
  }

  /** Queues a frame; dropped silently once the link closed (the outbox resends what was not acknowledged). */
  public void send(String type, ObjectNode body) {
    if (open.get()) {
      queue.add(new Frame(type, 0, body));
    }
  }

  /**
   * Writes a frame with {@code len} raw bytes attached, on the caller's thread, after everything queued before it.
   */
  public void sendNow(String type, ObjectNode body, byte[] data, int off, int len) throws IOException {
    if (!open.get()) {
      throw new IOException("link to " + peer + " is closed");
    }
    body.put("attach", len);
    byte[] head = codec.encode(new Frame(type, 0, body));
    synchronized (out) {
      out.write(head);
      out.write(data, off, len);
      if (queue.isEmpty()) {
        flush();
      }
    }
  }

  /** Flushes the TLS layer and sends the records it left gathered in the transport (with {@code out}'s lock held). */
  private void flush() throws IOException {
    out.flush();
    if (transport != null) {
      transport.sendHeld();
    }
  }

  private void beat() {
    if (!open.get()) {
      return;
    }
    if (TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastHeard) > deadAfterMillis) {
      log.warn("peer {} silent for more than {} ms; closing the link", peer, deadAfterMillis);
      close();
      return;
    }
    send(LinkFrame.PING, Json.object());
  }

  private void writeLoop() {
    try {
      while (true) {
        Object o = queue.take();
        if (o == CLOSE) {
          return;
        }
        byte[] bytes = codec.encode((Frame) o);
        synchronized (out) {
          out.write(bytes);
          if (queue.isEmpty()) {
            flush();
          }
        }
      }
    } catch (IOException | InterruptedException | TetherException e) {
      log.debug("writing to peer {} failed: {}", peer, e.toString());
      close();
    }
  }

  private void readLoop() {
    try {
      while (open.get()) {
        Frame f = codec.read(in);
        if (f == null) {
          break;
        }
        lastHeard = System.nanoTime();
        byte[] attachment = null;
        long n = f.body().path("attach").asLong(0);
        if (n < 0 || n > codec.maxFrameBytes()) {
          throw new TetherException(ErrorCode.CORRUPT_FRAME, "frame " + f.type() + " announces an attachment of " + n
              + " bytes, outside 0.." + codec.maxFrameBytes());
        }
        if (n > 0) {
          attachment = handler.attachmentBuffer(this, f, (int) n);
          in.readFully(attachment, 0, (int) n);
        }
        if (LinkFrame.PING.is(f)) {
          continue;
        }
        handler.frame(this, f, attachment);
      }
    } catch (IOException e) {
      log.info("link to peer {} dropped: {}", peer, e.toString());
    } catch (TetherException e) {
      log.warn("closing the link to peer {}: {} {}", peer, e.code(), e.getMessage());
    } catch (Exception e) {
      log.error("link to peer {} failed", peer, e);
    } finally {
      close();
    }
  }

  /** Closes the connection; the owner hears about it once. */
  public void close() {
    if (!open.compareAndSet(true, false)) {
      return;
    }
    heartbeat.cancel(false);
    queue.add(CLOSE);
    try {
      if (transport != null) {
        // the TCP socket first: a writer blocked on a peer that stopped reading holds the gathered records, and the
        // TLS layer's closing alert would wait behind them
        transport.close();
      }
      socket.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    handler.closed(this);
  }

  @Override
  public String toString() {
    return "link to " + peer;
  }
}
