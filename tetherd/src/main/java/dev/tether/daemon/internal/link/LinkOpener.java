package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.relay.RelayTunnel;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.wire.LinkFrame;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Runs on the calling dialer's thread and blocks it: one attempt to open a link to a paired peer, directly or through
 * the relay, with the pinned TLS and the {@code link.hello}; a welcomed link is attached to the {@link LinkTable}.
 * Keeps no state.
 */
final class LinkOpener {
  private final Identity identity;
  private final LinkTable links;

  LinkOpener(Identity identity, LinkTable links) {
    this.identity = identity;
    this.links = links;
  }

  /** Dials {@code p} at its address. */
  void direct(Peer p) throws IOException {
    InetSocketAddress target = LinkManager.parseAddress(p.address());
    SSLContext ctx = PinnedTls.context(identity, fp -> fp.equals(p.fingerprint()));
    BatchingSocket tcp = new BatchingSocket();
    boolean ok = false;
    try {
      tcp.connect(target, 5_000);
      SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(tcp, target.getHostString(), target.getPort(), true);
      try {
        ok = handshake(s, tcp, p, LinkManager.DIRECT);
      } catch (java.net.SocketException e) {
        // the peer accepted the connection and closed it in the handshake: how a refused certificate often shows
        throw new DialFailures.HandshakeClosed(e);
      }
    } finally {
      if (!ok) {
        tcp.close();
      }
    }
  }

  /** Dials {@code p} through the relay: the same pinned TLS and hello, layered over the tunnel's loopback socket. */
  void relayed(Peer p, RelayTunnel r) throws IOException {
    Socket plain = r.open(p.fingerprint());
    boolean ok = false;
    try {
      SSLContext ctx = PinnedTls.context(identity, fp -> fp.equals(p.fingerprint()));
      SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, "127.0.0.1", plain.getPort(), true);
      ok = handshake(s, null, p, LinkManager.RELAY);
    } finally {
      if (!ok) {
        plain.close();
      }
    }
  }

  private boolean handshake(SSLSocket s, BatchingSocket tcp, Peer p, String via) throws IOException {
    s.setTcpNoDelay(true);
    s.setSoTimeout(15_000);
    PinnedTls.configure(s);
    s.startHandshake();
    FrameCodec codec = new FrameCodec();
    ObjectNode hello = Json.object();
    hello.put("protocol", Protocol.VERSION);
    codec.write(s.getOutputStream(), LinkFrame.LINK_HELLO.frame(hello));
    DataInputStream in = FrameCodec.input(s.getInputStream());
    Frame welcome = codec.read(in);
    if (welcome == null || !LinkFrame.LINK_WELCOME.is(welcome)) {
      throw new IOException("peer did not welcome the link (it may have unpaired this device)");
    }
    // a direct link found while the relayed one still runs: the relayed one ends first, so the owner sees it go
    links.closeCurrent(p.fingerprint());
    links.attach(s, tcp, in, p.fingerprint(), via);
    return true;
  }
}
