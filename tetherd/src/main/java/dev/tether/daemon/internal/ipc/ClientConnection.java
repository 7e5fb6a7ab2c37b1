package dev.tether.daemon.internal.ipc;

import dev.tether.daemon.internal.Threads;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.wire.Push;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One app's (or the CLI's) connection to the daemon. Outgoing frames go through a single writer thread, so pushes
 * from one caller arrive in the order they were made and a slow reader never blocks the daemon's own threads.
 */
public final class ClientConnection {
  private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);
  private static final AtomicLong IDS = new AtomicLong();

  private final long connectionId = IDS.incrementAndGet();
  private final SocketChannel channel;
  private final OutputStream out;
  private final FrameCodec codec;
  private final ExecutorService writer;
  private volatile long peerPid;
  private volatile String appId;
  private volatile ObjectNode hello;
  private volatile boolean open = true;

  ClientConnection(SocketChannel channel, FrameCodec codec, long peerPid) {
    this.channel = channel;
    this.out = dev.tether.protocol.ChannelStreams.output(channel);
    this.codec = codec;
    this.peerPid = peerPid;
    this.writer = Threads.serial("tether-ipc-out-" + connectionId);
  }

  void handshake(String appId, ObjectNode hello) {
    this.appId = appId;
    this.hello = hello;
  }

  /** A number unique among this daemon's connections. */
  public long id() {
    return connectionId;
  }

  /** The app id the client declared in its hello. */
  public String appId() {
    return appId;
  }

  /** The whole hello the client sent (fields such as {@code kind} and {@code wakeId}). */
  public ObjectNode hello() {
    return hello;
  }

  /** The client's process id as the kernel reports it, or -1 when unknown. */
  public long peerPid() {
    return peerPid;
  }

  public boolean isOpen() {
    return open;
  }

  /** Sends a push (a frame that expects no response). Silently dropped once the connection closed. */
  public void push(Push push, ObjectNode body) {
    push(push.wire(), body);
  }

  /** Sends a frame that expects no response. Silently dropped once the connection closed. */
  public void push(String type, ObjectNode body) {
    send(new Frame(type, 0, body));
  }

  void send(Frame frame) {
    if (!open) {
      return;
    }
    byte[] bytes = encode(frame);
    if (bytes == null) {
      return;
    }
    try {
      writer.execute(() -> write(bytes));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed concurrently
    }
  }

  /** The frame's bytes; for an answer that cannot be encoded, an error naming why; null when nothing can be sent. */
  private byte[] encode(Frame frame) {
    byte[] encoded;
    try {
      encoded = codec.encode(frame);
    } catch (RuntimeException e) {
      log.error("cannot encode {} for connection {}", frame.type(), connectionId, e);
      if (!frame.type().equals(Frame.RESPONSE)) {
        return null;
      }
      // the request still gets its answer (an error naming why) instead of waiting for its timeout
      try {
        encoded = codec.encode(IpcServer.error(frame.id(), e));
      } catch (RuntimeException again) {
        return null;
      }
    }
    return encoded;
  }

  /** Writes on the writer thread. */
  private void write(byte[] bytes) {
    try {
      out.write(bytes);
    } catch (IOException e) {
      log.debug("write to connection {} failed: {}", connectionId, e.toString());
      close();
    }
  }

  /**
   * Sends the answer to request {@code id} when {@code result} completes: encoded and written on this connection's
   * writer thread, never on the thread that completed it (such as the store's writer, whose commits complete most
   * answers). A connection closed meanwhile drops the answer.
   */
  void answerWhenDone(long id, String type, CompletableFuture<ObjectNode> result) {
    result.whenCompleteAsync((body, failure) -> {
      if (id == 0) {
        if (failure != null) {
          log.warn("{} {} failed: {}", this, type, failure.toString());
        }
        return;
      }
      // already on the writer thread, in completion order: write here, behind whatever was queued before (and
      // before a close queued after it, as when the answer was encoded on the completing thread)
      byte[] bytes = encode(failure == null ? new Frame(Frame.RESPONSE, id, body) : IpcServer.error(id, failure));
      if (bytes != null) {
        write(bytes);
      }
    }, work -> {
      try {
        writer.execute(work);
      } catch (java.util.concurrent.RejectedExecutionException closed) {
        // the connection closed: nobody is left to answer
      }
    });
  }

  /** Sends a last frame, then closes once it is written. */
  void sendAndClose(Frame frame) {
    send(frame);
    close();
  }

  void peerPid(long pid) {
    this.peerPid = pid;
  }

  /**
   * Closes the connection after the frames already queued are written (a refusal reaches the client before the
   * close); the server then tells the listeners.
   */
  public synchronized void close() {
    if (!open) {
      return;
    }
    open = false;
    try {
      writer.execute(this::closeChannel);
      writer.shutdown();
    } catch (java.util.concurrent.RejectedExecutionException e) {
      closeChannel();
    }
  }

  private void closeChannel() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  @Override
  public String toString() {
    return "connection " + connectionId + " (" + (appId == null ? "no app yet" : appId) + ", pid " + peerPid + ")";
  }
}
