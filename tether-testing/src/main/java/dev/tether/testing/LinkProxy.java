package dev.tether.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The loopback TCP hop between two paired kits: the companion's daemon dials the primary's peer port through it, so
 * the kit can cut the link for real. {@link #drop()} closes every forwarded connection (both daemons read end of
 * stream at once) and from then on holds each new connection unanswered instead of forwarding it; {@link #restore()}
 * forwards the held connections, so the companion's dialer, which is already waiting in its TLS handshake, links again
 * at once rather than after its back-off. A connection held longer than the dialer's handshake timeout (15 s) is
 * given up by the dialer, which then dials again after its back-off (at most 7.5 s).
 */
final class LinkProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int targetPort;
  private final Set<Socket> forwarded = ConcurrentHashMap.newKeySet();
  private final List<Socket> held = new ArrayList<>();
  private boolean dropped;
  private int acceptedWhileDropped;
  private volatile boolean closed;

  LinkProxy(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::acceptLoop, "tether-kit-link-accept");
    t.setDaemon(true);
    t.start();
  }

  /** The address the companion pairs with (and dials from then on). */
  String address() {
    return "127.0.0.1:" + server.getLocalPort();
  }

  synchronized boolean isDropped() {
    return dropped;
  }

  /** Connections the dialer opened since the last {@link #drop()} while the link was down (held ones). */
  synchronized int acceptedWhileDropped() {
    return acceptedWhileDropped;
  }

  /** Cuts every forwarded connection and holds new ones until {@link #restore()}. */
  void drop() {
    synchronized (this) {
      dropped = true;
      acceptedWhileDropped = 0;
    }
    for (Socket s : List.copyOf(forwarded)) {
      closeQuietly(s);
    }
    forwarded.clear();
  }

  /** Forwards again, starting with the connections held while the link was dropped. */
  void restore() {
    List<Socket> waiting;
    synchronized (this) {
      dropped = false;
      waiting = new ArrayList<>(held);
      held.clear();
    }
    for (Socket s : waiting) {
      forward(s);
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket in;
      try {
        in = server.accept();
      } catch (IOException e) {
        return;
      }
      synchronized (this) {
        if (dropped) {
          acceptedWhileDropped++;
          held.removeIf(Socket::isClosed);
          held.add(in);
          continue;
        }
      }
      forward(in);
    }
  }

  private void forward(Socket in) {
    if (closed || in.isClosed()) {
      closeQuietly(in);
      return;
    }
    Socket out = new Socket();
    try {
      in.setTcpNoDelay(true);
      out.setTcpNoDelay(true);
      out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5_000);
    } catch (IOException e) {
      closeQuietly(in);
      closeQuietly(out);
      return;
    }
    synchronized (this) {
      if (dropped) {
        // dropped while this one was being connected: it waits like the others
        closeQuietly(out);
        held.add(in);
        return;
      }
      forwarded.add(in);
      forwarded.add(out);
    }
    pipe(in, out);
    pipe(out, in);
  }

  private void pipe(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[64 * 1024];
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        int n;
        while ((n = in.read(buf)) >= 0) {
          out.write(buf, 0, n);
        }
      } catch (IOException ignored) {
        // a cut or the other direction ended it
      } finally {
        closeQuietly(from);
        closeQuietly(to);
        forwarded.remove(from);
        forwarded.remove(to);
      }
    }, "tether-kit-link-pipe");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    List<Socket> waiting;
    synchronized (this) {
      waiting = new ArrayList<>(held);
      held.clear();
    }
    waiting.forEach(LinkProxy::closeQuietly);
    for (Socket s : List.copyOf(forwarded)) {
      closeQuietly(s);
    }
    forwarded.clear();
  }
}
