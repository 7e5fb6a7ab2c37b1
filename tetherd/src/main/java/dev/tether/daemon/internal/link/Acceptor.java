package dev.tether.daemon.internal.link;

import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.relay.RelayTunnel;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.LinkFrame;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the peer port on its own threads: one ({@code tether-link-accept}) accepts TCP connections and layers TLS over
 * each, and each connection's handshake and first frame run on a thread of its own ({@code tether-link-serve}); other
 * threads only {@link #bind} (synchronized). A paired peer's {@code link.hello} becomes a link in the
 * {@link LinkTable}; a connection from an unpaired certificate goes to the {@link PairingListener}.
 */
final class Acceptor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Acceptor.class);

  /** Runs a pairing on a connection from an unpaired certificate. */
  interface Pairing {
    void serve(SSLSocket s, X509Certificate theirs, DataInputStream in, Frame hello) throws IOException;
  }

  private final LinkStore store;
  private final SSLContext linkContext;
  private final PeerDirectory directory;
  private final Pairing pairing;
  private final LinkTable links;
  private final Supplier<RelayTunnel> relay;
  private volatile ServerSocket server;
  private volatile boolean closed;

  Acceptor(LinkStore store, SSLContext linkContext, PeerDirectory directory, Pairing pairing, LinkTable links,
      Supplier<RelayTunnel> relay) {
    this.store = store;
    this.linkContext = linkContext;
    this.directory = directory;
    this.pairing = pairing;
    this.links = links;
    this.relay = relay;
  }

  /** Listens on {@code port} (0: any free one) and stores the port; the old server socket, if any, closes. */
  synchronized void bind(int port) throws IOException {
    ServerSocket old = server;
    if (old != null && old.getLocalPort() == port) {
      return;
    }
    // plain TCP, with TLS layered over each accepted socket (see acceptLoop), so that the TLS records of a link travel
    // through a BatchingSocket
    ServerSocket s = new ServerSocket() {
      @Override
      public Socket accept() throws IOException {
        BatchingSocket b = new BatchingSocket();
        implAccept(b);
        return b;
      }
    };
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(port), 64);
    server = s;
    if (old != null) {
      old.close();
    }
    store.savePeerPort(s.getLocalPort());
    Threads.start("tether-link-accept", () -> acceptLoop(s));
    log.info("listening for peers on port {}", s.getLocalPort());
  }

  /** The TCP port peers connect to. */
  int port() {
    return server.getLocalPort();
  }

  private void acceptLoop(ServerSocket s) {
    while (!closed && !s.isClosed()) {
      SSLSocket socket;
      BatchingSocket tcp;
      try {
        tcp = (BatchingSocket) s.accept();
        try {
          socket = (SSLSocket) linkContext.getSocketFactory().createSocket(tcp, null, true);
          PinnedTls.configureServer(socket);
        } catch (IOException | RuntimeException e) {
          tcp.close();
          log.warn("cannot set up TLS over a peer connection from {}: {}", tcp.getRemoteSocketAddress(), e.toString());
          continue;
        }
      } catch (IOException e) {
        if (!closed && !s.isClosed()) {
          log.error("accepting a peer connection failed", e);
        }
        return;
      }
      Threads.start("tether-link-serve", () -> serve(socket, tcp));
    }
  }

  private void serve(SSLSocket s, BatchingSocket tcp) {
    boolean handedOver = false;
    try {
      s.setSoTimeout(15_000);
      s.setTcpNoDelay(true);
      s.startHandshake();
      Certificate[] chain = s.getSession().getPeerCertificates();
      X509Certificate theirs = (X509Certificate) chain[0];
      String fp = Identity.fingerprint(theirs);
      DataInputStream in = FrameCodec.input(s.getInputStream());
      Frame first = new FrameCodec().read(in);
      if (first == null) {
        return;
      }
      if (!directory.contains(fp)) {
        pairing.serve(s, theirs, in, first);
        return;
      }
      if (!LinkFrame.LINK_HELLO.is(first)) {
        log.warn("peer {} opened with {}, not link.hello; closing", fp, first.type());
        return;
      }
      new FrameCodec().write(s.getOutputStream(), LinkFrame.LINK_WELCOME.frame(Json.object()));
      handedOver = true;
      RelayTunnel r = relay.get();
      boolean relayed = r != null && s.getInetAddress().isLoopbackAddress() && r.isBridge(s.getPort());
      links.attach(s, tcp, in, fp, relayed ? LinkManager.RELAY : LinkManager.DIRECT);
    } catch (javax.net.ssl.SSLException e) {
      log.warn("refused a peer connection from {}: {}", s.getRemoteSocketAddress(), e.getMessage());
    } catch (IOException | TetherException e) {
      log.warn("peer connection from {} failed: {}", s.getRemoteSocketAddress(), e.toString());
    } finally {
      if (!handedOver) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing anyway
        }
      }
    }
  }

  /** Stops accepting (links already made stay). */
  @Override
  public void close() {
    closed = true;
    try {
      ServerSocket s = server;
      if (s != null) {
        s.close();
      }
    } catch (IOException ignored) {
      // closing anyway
    }
  }
}
