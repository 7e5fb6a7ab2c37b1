package dev.tether.daemon.internal.ipc;

import dev.tether.daemon.internal.Threads;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.wire.Operation;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's Unix domain socket. Accepts only processes of the OS user that owns the home folder (checked with
 * {@code SO_PEERCRED}), requires a {@code hello} of the same protocol version, then dispatches each request to the
 * handler registered for its type.
 */
public final class IpcServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IpcServer.class);
  /** Reverse-DNS style: letters, digits, dot, dash and underscore; 1 to 128 characters. */
  public static final Pattern APP_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private final Path socketPath;
  private final UserPrincipal owner;
  private final FrameCodec codec = FrameCodec.keepingPayloadText();
  private final Map<String, RequestHandler> handlers = new ConcurrentHashMap<>();
  private final CopyOnWriteArrayList<ConnectionListener> listeners = new CopyOnWriteArrayList<>();
  private final Set<ClientConnection> connections = ConcurrentHashMap.newKeySet();
  private final Supplier<ObjectNode> welcome;
  private ServerSocketChannel server;
  private Thread acceptThread;
  private volatile boolean closed;

  public IpcServer(Path socketPath, UserPrincipal owner, Supplier<ObjectNode> welcome) {
    this.socketPath = socketPath;
    this.owner = owner;
    this.welcome = welcome;
  }

  /** Registers the handler for one operation; an operation has exactly one handler. */
  public void register(Operation op, RequestHandler handler) {
    register(op.wire(), handler);
  }

  /** Registers an operation whose body is parsed into a record before the handler sees it. */
  public <R> void register(Operation op, RequestParser<R> parser, TypedHandler<R> handler) {
    register(op.wire(), (c, body) -> handler.handle(c, parser.parse(body)));
  }

  /** Registers the handler for one request type; a type has exactly one handler. */
  public void register(String type, RequestHandler handler) {
    if (handlers.putIfAbsent(type, handler) != null) {
      throw new IllegalStateException("a handler for " + type + " is already registered");
    }
  }

  public void addListener(ConnectionListener listener) {
    listeners.add(listener);
  }

  /** Open connections that completed their handshake. */
  public Set<ClientConnection> connections() {
    return Set.copyOf(connections);
  }

  public void start() throws IOException {
    Files.deleteIfExists(socketPath);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socketPath));
    Files.setPosixFilePermissions(socketPath, PosixFilePermissions.fromString("rw-------"));
    acceptThread = Threads.start("tether-ipc-accept", this::acceptLoop);
  }

  private void acceptLoop() {
    while (!closed) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        if (!closed) {
          log.error("accept failed", e);
        }
        return;
      }
      Threads.start("tether-ipc-in", () -> serve(ch));
    }
  }

  private void serve(SocketChannel ch) {
    ClientConnection conn = new ClientConnection(ch, codec, -1);
    boolean registered = false;
    try {
      DataInputStream in = FrameCodec.input(dev.tether.protocol.ChannelStreams.input(ch));
      UnixDomainPrincipal peer = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
      if (!owner.equals(peer.user())) {
        log.warn("refused a connection from OS user {} (tetherd serves only {})", peer.user().getName(), owner.getName());
        conn.sendAndClose(error(0, new TetherException(ErrorCode.PERMISSION_DENIED,
            "tetherd for this home serves only OS user " + owner.getName() + ", not " + peer.user().getName())));
        return;
      }
      Frame hello = codec.read(in);
      if (hello == null) {
        return;
      }
      TetherException refusal = checkHello(hello);
      if (refusal != null) {
        conn.sendAndClose(error(hello.id(), refusal));
        return;
      }
      conn.handshake(hello.text("appId"), hello.body());
      conn.peerPid(hello.body().path("pid").asLong(-1));
      connections.add(conn);
      registered = true;
      conn.send(new Frame(Frame.RESPONSE, hello.id(), welcome.get()));
      for (ConnectionListener l : listeners) {
        try {
          l.opened(conn);
        } catch (RuntimeException e) {
          log.error("connection listener failed on open of {}", conn, e);
        }
      }
      while (conn.isOpen()) {
        Frame f = codec.read(in);
        if (f == null) {
          break;
        }
        dispatch(conn, f);
      }
    } catch (TetherException e) {
      log.warn("closing {}: {}", conn, e.getMessage());
      conn.sendAndClose(error(0, e));
    } catch (IOException e) {
      log.debug("{} ended: {}", conn, e.toString());
    } finally {
      conn.close();
      if (registered) {
        connections.remove(conn);
        for (ConnectionListener l : listeners) {
          try {
            l.closed(conn);
          } catch (RuntimeException e) {
            log.error("connection listener failed on close of {}", conn, e);
          }
        }
      }
    }
  }

  private static TetherException checkHello(Frame hello) {
    if (!Protocol.HELLO.equals(hello.type())) {
      return new TetherException(ErrorCode.CORRUPT_FRAME, "the first message must be hello, got " + hello.type());
    }
    int version = hello.body().path("protocol").asInt(-1);
    if (version != Protocol.VERSION) {
      return new TetherException(ErrorCode.PROTOCOL_MISMATCH, "client speaks Tether protocol " + version
          + " but this tetherd speaks " + Protocol.VERSION + "; use a client library and daemon of the same release");
    }
    String appId = hello.text("appId");
    if (appId == null || !APP_ID.matcher(appId).matches()) {
      return new TetherException(ErrorCode.INVALID_PARAMETER, "app id " + (appId == null ? "is missing" : "'" + appId
          + "' is not valid") + ": use reverse-DNS letters, digits, '.', '-' and '_' (e.g. com.example.weather)");
    }
    return null;
  }

  private void dispatch(ClientConnection conn, Frame f) {
    RequestHandler h = handlers.get(f.type());
    if (h == null) {
      conn.send(error(f.id(), new TetherException(ErrorCode.UNKNOWN_OPERATION,
          "tetherd does not know the operation '" + f.type() + "'")));
      return;
    }
    CompletableFuture<ObjectNode> result;
    try {
      result = h.handle(conn, f.body());
    } catch (Throwable t) {
      result = CompletableFuture.failedFuture(t);
    }
    if (result == null) {
      result = CompletableFuture.completedFuture(Json.object());
    }
    // the request's id and type only: holding the frame would keep its whole body alive until the answer
    conn.answerWhenDone(f.id(), f.type(), result);
  }

  /** The error frame for a failure: the TetherException's code and message, or GENERIC for anything else. */
  public static Frame error(long id, Throwable failure) {
    Throwable t = failure;
    while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    ObjectNode body = Json.object();
    if (t instanceof TetherException te) {
      body.put("code", te.code().name());
      body.put("message", te.getMessage());
    } else {
      log.error("request failed unexpectedly", t);
      body.put("code", ErrorCode.GENERIC.name());
      body.put("message", t.getClass().getSimpleName() + ": " + t.getMessage());
    }
    return new Frame(Frame.ERROR, id, body);
  }

  @Override
  public void close() {
    closed = true;
    try {
      if (server != null) {
        server.close();
      }
    } catch (IOException ignored) {
      // closing anyway
    }
    for (ClientConnection c : connections) {
      c.close();
    }
    try {
      Files.deleteIfExists(socketPath);
    } catch (IOException ignored) {
      // best effort
    }
  }
}
