package dev.tether.internal;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.protocol.Frame;
import dev.tether.protocol.wire.Operation;
import dev.tether.protocol.wire.Push;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * One connection from an app (or the CLI) to tetherd. Requests are answered by id; frames the daemon pushes
 * (events, tasks) are handed to their listeners one at a time, in arrival order, on a delivery thread of their own,
 * so a listener may make blocking calls back to the daemon.
 */
public final class DaemonClient implements AutoCloseable {
  private final SocketChannel channel;
  private final OutputStream out;
  private final DataInputStream in;
  private final FrameCodec codec = new FrameCodec();
  private final AtomicLong ids = new AtomicLong();
  private final Map<Long, CompletableFuture<ObjectNode>> pending = new ConcurrentHashMap<>();
  private final Map<String, List<Consumer<ObjectNode>>> pushListeners = new ConcurrentHashMap<>();
  private final CopyOnWriteArrayList<Runnable> closeListeners = new CopyOnWriteArrayList<>();
  private final ExecutorService delivery;
  private final Thread reader;
  private final String appId;
  private final ObjectNode welcome;
  private final Path home;
  private volatile boolean closed;
  private volatile Duration callTimeout = Duration.ofSeconds(60);

  private DaemonClient(Path home, SocketChannel channel, String appId, ObjectNode helloExtras) throws IOException {
    this.home = home;
    this.channel = channel;
    this.appId = appId;
    this.out = dev.tether.protocol.ChannelStreams.output(channel);
    this.in = FrameCodec.input(dev.tether.protocol.ChannelStreams.input(channel));
    ObjectNode hello = helloExtras == null ? JsonNodeFactory.instance.objectNode() : helloExtras.deepCopy();
    hello.put("protocol", Protocol.VERSION);
    hello.put("appId", appId);
    hello.put("pid", ProcessHandle.current().pid());
    synchronized (out) {
      Errors.translateIoRun(() -> codec.write(out, new Frame(Protocol.HELLO, 1, hello)));
    }
    ids.set(1);
    Frame answer = Errors.translateIo(() -> codec.read(in));
    if (answer == null) {
      throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "tetherd at " + home + " closed the connection during the handshake");
    }
    if (Frame.ERROR.equals(answer.type())) {
      throw toException(answer.body());
    }
    this.welcome = answer.body();
    this.delivery = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "tether-delivery-" + appId);
      t.setDaemon(true);
      return t;
    });
    this.reader = new Thread(this::readLoop, "tether-client-reader-" + appId);
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Connects to the daemon of {@code home}, starting it first when none is running and {@code autostart} is set.
   */
  public static DaemonClient connect(Path home, String appId, ObjectNode helloExtras, boolean autostart) {
    Path socket = TetherPaths.socket(home);
    IOException last = null;
    try {
      return new DaemonClient(home, open(socket), appId, helloExtras);
    } catch (IOException e) {
      last = e;
    }
    String managed = System.getenv(dev.tether.protocol.Protocol.ENV_NO_AUTOSTART);
    boolean managedElsewhere = managed != null && !managed.isBlank() && !managed.trim().equals("0");
    if (!autostart || managedElsewhere) {
      throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "tetherd is not running for home " + home
          + " (" + last.getMessage() + "); start it with 'tether --home " + home + " daemon start'"
          + (autostart ? " (" + dev.tether.protocol.Protocol.ENV_NO_AUTOSTART + " is set: clients do not start it)" : ""), last);
    }
    Process started = DaemonStarter.start(home);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    long exitedAt = 0;
    while (System.nanoTime() < deadline) {
      try {
        return new DaemonClient(home, open(socket), appId, helloExtras);
      } catch (IOException e) {
        last = e;
        if (!started.isAlive() && started.exitValue() != 0) {
          // it failed (or lost the race to a daemon another client started: give that one a moment to listen)
          if (exitedAt == 0) {
            exitedAt = System.nanoTime();
          } else if (System.nanoTime() - exitedAt > TimeUnit.SECONDS.toNanos(3)) {
            break;
          }
        }
        try {
          Thread.sleep(25);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "started tetherd for home " + home + " but "
        + DaemonStarter.whyNotStarted(home, started), last);
  }

  private static SocketChannel open(Path socket) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
      return ch;
    } catch (IOException e) {
      ch.close();
      throw e;
    }
  }

  public String appId() {
    return appId;
  }

  public Path home() {
    return home;
  }

  /** What the daemon said in its welcome: protocol, version, pid, home. */
  public ObjectNode welcome() {
    return welcome;
  }

  public void callTimeout(Duration timeout) {
    this.callTimeout = timeout;
  }

  /** Sends a request; the future completes with the response body or a {@link TetherException}. */
  public CompletableFuture<ObjectNode> request(Operation op, ObjectNode body) {
    return request(op.wire(), body);
  }

  /** Sends a request and waits for its answer; failures are thrown as {@link TetherException}. */
  public ObjectNode call(Operation op, ObjectNode body) {
    return call(op.wire(), body);
  }

  /** Listens for one push; listeners run on the delivery thread, in order. */
  public void onPush(Push push, Consumer<ObjectNode> listener) {
    onPush(push.wire(), listener);
  }

  /** Sends a request; the future completes with the response body or a {@link TetherException}. */
  public CompletableFuture<ObjectNode> request(String type, ObjectNode body) {
    long id = ids.incrementAndGet();
    CompletableFuture<ObjectNode> f = new CompletableFuture<>();
    if (closed) {
      f.completeExceptionally(lost());
      return f;
    }
    pending.put(id, f);
    try {
      byte[] bytes = codec.encode(new Frame(type, id, body));
      synchronized (out) {
        out.write(bytes);
      }
    } catch (IOException e) {
      pending.remove(id);
      f.completeExceptionally(new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "lost the connection to tetherd: " + e.getMessage(), e));
    } catch (TetherException e) {
      pending.remove(id);
      f.completeExceptionally(e);
    } catch (dev.tether.protocol.TetherException e) {
      pending.remove(id);
      f.completeExceptionally(Errors.toPublic(e));
    }
    if (closed) {
      // the reader may have failed everything pending before we registered
      CompletableFuture<ObjectNode> mine = pending.remove(id);
      if (mine != null) {
        mine.completeExceptionally(lost());
      }
    }
    return f;
  }

  /** Sends a request and waits for its answer; failures are thrown as {@link TetherException}. */
  public ObjectNode call(String type, ObjectNode body) {
    try {
      return request(type, body).get(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof TetherException te) {
        throw new TetherException(te.code(), te.getMessage(), te);
      }
      throw new TetherException(ErrorCode.GENERIC, String.valueOf(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TetherException(ErrorCode.GENERIC, "interrupted while waiting for tetherd (" + type + ")");
    } catch (TimeoutException e) {
      throw new TetherException(ErrorCode.TIMED_OUT, "tetherd did not answer " + type + " within " + callTimeout.toSeconds() + " s");
    }
  }

  /** Listens for frames of one type the daemon pushes; listeners run on the delivery thread, in order. */
  public void onPush(String type, Consumer<ObjectNode> listener) {
    pushListeners.computeIfAbsent(type, k -> new CopyOnWriteArrayList<>()).add(listener);
  }

  /** Runs once when the connection is lost or closed. */
  public void onClose(Runnable listener) {
    closeListeners.add(listener);
    if (closed) {
      listener.run();
    }
  }

  /** Runs work on the delivery thread, after every push received so far. */
  public void deliver(Runnable work) {
    try {
      delivery.execute(work);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed
    }
  }

  public boolean isOpen() {
    return !closed;
  }

  private void readLoop() {
    try {
      while (!closed) {
        Frame f = codec.read(in);
        if (f == null) {
          break;
        }
        if (f.isResponse()) {
          CompletableFuture<ObjectNode> p = pending.remove(f.id());
          if (p != null) {
            if (Frame.ERROR.equals(f.type())) {
              p.completeExceptionally(toException(f.body()));
            } else {
              p.complete(f.body());
            }
          }
          continue;
        }
        List<Consumer<ObjectNode>> ls = pushListeners.get(f.type());
        if (ls != null) {
          ObjectNode body = f.body();
          for (Consumer<ObjectNode> l : ls) {
            deliver(() -> l.accept(body));
          }
        }
      }
    } catch (IOException | TetherException | dev.tether.protocol.TetherException e) {
      // connection lost (or a frame that cannot be read); fall through to cleanup
    } finally {
      shutdown();
    }
  }

  private TetherException lost() {
    return new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "the connection to tetherd at " + home + " was closed");
  }

  private void shutdown() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      channel.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    for (Long id : List.copyOf(pending.keySet())) {
      CompletableFuture<ObjectNode> p = pending.remove(id);
      if (p != null) {
        p.completeExceptionally(lost());
      }
    }
    for (Runnable r : closeListeners) {
      deliver(r);
    }
    delivery.shutdown();
  }

  static TetherException toException(ObjectNode body) {
    ErrorCode code;
    try {
      code = ErrorCode.valueOf(body.path("code").asText("GENERIC"));
    } catch (IllegalArgumentException e) {
      code = ErrorCode.GENERIC;
    }
    return new TetherException(code, body.path("message").asText("tetherd reported an error without a message"));
  }

  @Override
  public void close() {
    shutdown();
  }
}
