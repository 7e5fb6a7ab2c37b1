package dev.tether.tests.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP forwarder on 127.0.0.1 between two daemons that a test can break: {@link #cut()} drops every open
 * connection, {@link #block(boolean)} refuses new ones (the link stays down until unblocked).
 */
public final class TcpFaultProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final AtomicLong forwarded = new AtomicLong();
  private final AtomicLong connections = new AtomicLong();
  private volatile boolean blocked;
  private volatile java.io.ByteArrayOutputStream recording;
  private volatile boolean silent;
  private volatile boolean closed;

  public TcpFaultProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::acceptLoop, "fault-proxy-accept");
    t.setDaemon(true);
    t.start();
  }

  public int port() {
    return server.getLocalPort();
  }

  public String address() {
    return "127.0.0.1:" + port();
  }

  /** Bytes forwarded in both directions so far. */
  public long bytesForwarded() {
    return forwarded.get();
  }

  /** Connections accepted and forwarded so far. */
  public long connections() {
    return connections.get();
  }

  /** Keeps a copy of every byte forwarded from now on, both directions (for tests that inspect what a server saw). */
  public void record() {
    recording = new java.io.ByteArrayOutputStream();
  }

  /** The bytes forwarded since {@link #record()}. */
  public byte[] recorded() {
    java.io.ByteArrayOutputStream r = recording;
    synchronized (r) {
      return r.toByteArray();
    }
  }

  public void block(boolean block) {
    this.blocked = block;
    if (block) {
      cut();
    }
  }

  /**
   * While set, bytes are read and thrown away instead of forwarded, and connections stay open: a peer that went
   * silent without closing anything (only a heartbeat notices).
   */
  public void silence(boolean silence) {
    this.silent = silence;
  }

  /** Closes every connection open now. */
  public void cut() {
    for (Socket s : sockets) {
      try {
        s.close();
      } catch (IOException ignored) {
        // cutting anyway
      }
    }
    sockets.clear();
  }

  private void acceptLoop() {
    while (!closed) {
      Socket in;
      try {
        in = server.accept();
      } catch (IOException e) {
        return;
      }
      if (blocked) {
        try {
          in.close();
        } catch (IOException ignored) {
          // refused
        }
        continue;
      }
      try {
        Socket out = new Socket();
        out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
        sockets.add(in);
        sockets.add(out);
        connections.incrementAndGet();
        pipe(in, out);
        pipe(out, in);
      } catch (IOException e) {
        try {
          in.close();
        } catch (IOException ignored) {
          // target down
        }
      }
    }
  }

  private void pipe(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[256 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          if (silent) {
            continue;
          }
          out.write(buf, 0, n);
          forwarded.addAndGet(n);
          java.io.ByteArrayOutputStream r = recording;
          if (r != null) {
            synchronized (r) {
              r.write(buf, 0, n);
            }
          }
        }
      } catch (IOException ignored) {
        // the other direction or a cut ends it
      } finally {
        try {
          from.close();
          to.close();
        } catch (IOException ignored) {
          // closing anyway
        }
        sockets.remove(from);
        sockets.remove(to);
      }
    }, "fault-proxy-pipe");
    t.setDaemon(true);
    t.start();
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    cut();
  }
}
