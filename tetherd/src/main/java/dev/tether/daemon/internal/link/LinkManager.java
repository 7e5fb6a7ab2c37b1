package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.daemon.internal.relay.RelayBroker;
import dev.tether.daemon.internal.relay.RelayTunnel;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.wire.LinkFrame;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Paired peers and the links to them.
 *
 * <p><b>Pairing.</b> {@link #listen} arms a one-time code (16 characters of Crockford base32: 80 random bits) on this
 * daemon's peer port. {@link #pair} on the other daemon opens TLS 1.3 to that port; each side presents its own
 * self-signed certificate and, on this one connection only, accepts the other's provisionally. The connector then
 * proves it knows the code with {@code HMAC-SHA256(code, "connector" | listener fingerprint | connector fingerprint |
 * both nonces)}; the listener checks it (constant time), answers with the same MAC labelled "listener", and the
 * connector checks that. The code itself never crosses the wire, a man in the middle changes a fingerprint and so
 * fails the MAC, and 80 bits make guessing the code offline from a captured MAC hopeless. A wrong proof is refused;
 * the third wrong one burns the code. Both sides then pin the other's certificate fingerprint.
 *
 * <p><b>Links.</b> After pairing, the connecting side dials the listener's address whenever the link is down (back-off
 * 100 ms doubling to 5 s, with jitter); the listening side only accepts. Every link is mutual TLS 1.3 whose trust
 * manager accepts exactly the pinned certificates, so an unpaired or re-keyed daemon fails the handshake and reads
 * nothing.
 *
 * <p><b>Relay.</b> With a relay broker configured ({@link #setRelay}), the connecting side dials through a
 * {@link RelayTunnel} after {@value #DIRECT_FAILURES_BEFORE_RELAY} direct attempts in a row failed, layering the same
 * pinned TLS over the tunnel's loopback socket; after {@value #RELAY_FAILURES_BEFORE_DIRECT} failed relay attempts it
 * tries direct again, and while a link runs through the relay it tries direct every {@code tether.relay.directProbeMillis}
 * (30 s by default) and moves the link there when that works. The accepting side takes relayed connections on its own
 * port like any other, so TLS runs end to end and the broker sees only TLS records.
 */
public final class LinkManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LinkManager.class);
  static final int DIRECT_FAILURES_BEFORE_RELAY = 2;
  static final int RELAY_FAILURES_BEFORE_DIRECT = 2;
  /** How a link runs. */
  public static final String DIRECT = "direct";
  public static final String RELAY = "relay";

  /** What a peer is to this daemon. */
  public record Peer(String fingerprint, byte[] certificate, String role, String address, boolean active, Instant pairedAt) {
    public ObjectNode toJson() {
      ObjectNode o = Json.object();
      o.put("peer", fingerprint);
      o.put("role", role);
      if (address != null) {
        o.put("address", address);
      }
      o.put("active", active);
      o.put("pairedAt", pairedAt.toString());
      return o;
    }
  }

  /** The owner of the links (the connectivity service). */
  public interface Listener {
    void linkUp(PeerLink link);

    void linkDown(PeerLink link);

    void frame(PeerLink link, Frame frame, byte[] attachment) throws Exception;

    /** See {@link PeerLink.Handler#attachmentBuffer}. */
    default byte[] attachmentBuffer(PeerLink link, Frame frame, int length) throws InterruptedException {
      return new byte[length];
    }

    /** The active companion changed (primary side): old may be null. */
    void activePeerChanged(String oldPeer, String newPeer);

    /** A peer was removed by {@code unpair}. */
    void unpaired(String peer);
  }

  private final Identity identity;
  private final Listener listener;
  private final LinkStore linkStore;
  private final PeerDirectory directory;
  private final Map<String, PeerLink> links = new ConcurrentHashMap<>();
  private final Map<String, Thread> dialers = new ConcurrentHashMap<>();
  /** How the current (or last) link to each peer runs: {@link #DIRECT} or {@link #RELAY}. */
  private final Map<String, String> vias = new ConcurrentHashMap<>();
  private final long directProbeMillis = Long.getLong("tether.relay.directProbeMillis", 30_000);
  /** Why the last dial of each peer failed, while its link is down (what {@code tether peers} shows). */
  private final Map<String, DialFailure> dialFailures = new ConcurrentHashMap<>();
  /** The longest pause between failed dials (tests that restart the listening daemon shorten it). */
  private final long maxDialBackoffMillis = Math.max(100, Long.getLong("tether.link.maxBackoffMillis", 5_000));
  private final RelaySettings relay;
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "tether-link-timers");
    t.setDaemon(true);
    return t;
  });
  private final long heartbeatMillis;
  private final long deadAfterMillis;
  private final SSLContext linkContext;
  private volatile ServerSocket server;
  private final PairingListener pairingListener;
  private final PairingConnector pairingConnector;
  private volatile boolean closed;

  public LinkManager(Store store, Identity identity, Listener listener, long heartbeatMillis, long deadAfterMillis) {
    this.identity = identity;
    this.listener = listener;
    this.heartbeatMillis = heartbeatMillis;
    this.deadAfterMillis = deadAfterMillis;
    this.linkStore = new LinkStore(store);
    this.directory = new PeerDirectory(linkStore, listener::activePeerChanged);
    this.relay = new RelaySettings(linkStore, identity.fingerprint(), directory::contains, this::port, () -> {});
    this.pairingListener = new PairingListener(identity, directory, new PairingListener.PeerPort() {
      @Override
      public void bind(int port) throws IOException {
        LinkManager.this.bind(port);
      }

      @Override
      public int port() {
        return LinkManager.this.port();
      }
    }, timers);
    this.pairingConnector = new PairingConnector(identity, directory, p -> startDialer(p.fingerprint()));
    this.linkContext = PinnedTls.context(identity, this::acceptable);
  }

  private boolean acceptable(String fingerprint) {
    if (directory.contains(fingerprint)) {
      return true;
    }
    return pairingListener.isArmed();
  }

  public Identity identity() {
    return identity;
  }

  /** Loads the pinned peers, binds the peer port (the stored one, else an ephemeral one that is then stored). */
  public void start() throws IOException {
    directory.load();
    Integer stored = linkStore.peerPort();
    bind(stored == null ? 0 : stored);
    relay.load();
    for (Peer p : directory.all()) {
      if (p.address() != null) {
        startDialer(p.fingerprint());
      }
    }
  }

  private synchronized void bind(int port) throws IOException {
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
    linkStore.savePeerPort(s.getLocalPort());
    Thread t = new Thread(() -> acceptLoop(s), "tether-link-accept");
    t.setDaemon(true);
    t.start();
    log.info("listening for peers on port {}", s.getLocalPort());
  }

  // ---------------------------------------------------------------------------------------------------- relay

  /**
   * Sets (checked by {@link RelayBroker#parse}) or, with null, clears the relay broker and its credentials; stored
   * durably, effective at once. Links that run through the relay when it is cleared or changed drop and are dialed
   * again.
   */
  public void setRelay(RelayBroker broker) {
    relay.set(broker);
  }

  /**
   * The relay's state: {@code broker} (the URL, null when none is set), {@code tls}, {@code username} (null when none),
   * {@code passwordSet}, {@code customCa}, {@code clientCert} (null, or its {@code subject}, {@code issuer},
   * {@code notBefore}, {@code notAfter}, {@code expired}, {@code notYetValid}; never the key), {@code connected},
   * {@code lastError} and {@code lastErrorAt} (when the
   * connection last failed or ended, absent when it has not), {@code streams}. Never the password.
   */
  public ObjectNode relayStatus() {
    return relay.status();
  }

  /** How the link to {@code peer} runs ({@link #DIRECT} or {@link #RELAY}); null when it is down. */
  public String via(String peer) {
    return isUp(peer) ? vias.get(peer) : null;
  }

  /** The TCP port peers connect to. */
  public int port() {
    return server.getLocalPort();
  }

  // ---------------------------------------------------------------------------------------------------- peers

  public List<Peer> peers() {
    return directory.all();
  }

  public Optional<Peer> peer(String fingerprintOrPrefix) {
    return directory.find(fingerprintOrPrefix);
  }

  /** The role this daemon has: "companion" when its only peer is a primary, else "primary". */
  public String localRole() {
    return directory.localRole();
  }

  /** The peer this daemon's sessions talk to: the primary of a companion, the active companion of a primary. */
  public Optional<Peer> counterpart() {
    return directory.counterpart();
  }

  public boolean isUp(String peer) {
    PeerLink l = links.get(peer);
    return l != null && l.isOpen();
  }

  public Optional<PeerLink> link(String peer) {
    PeerLink l = links.get(peer);
    return l != null && l.isOpen() ? Optional.of(l) : Optional.empty();
  }

  /** Makes {@code peer} (a companion) the active one; sessions of the old active one become inactive. */
  public Peer activate(String peerId) {
    return directory.activate(peerId);
  }

  /** Forgets a peer: its pin, its link and its dialer. */
  public Peer unpair(String peerId) {
    Peer p = directory.remove(peerId);
    dialFailures.remove(p.fingerprint());
    Thread d = dialers.remove(p.fingerprint());
    if (d != null) {
      d.interrupt();
    }
    PeerLink l = links.remove(p.fingerprint());
    if (l != null) {
      l.close();
    }
    listener.unpaired(p.fingerprint());
    log.info("unpaired peer {}", p.fingerprint());
    return p;
  }

  // ---------------------------------------------------------------------------------------------------- pairing

  /** What {@code tether pair listen} prints. */
  public record PairingOffer(String address, String code, String role, Instant expires) {}

  /**
   * Arms a one-time pairing code on the peer port ({@code port}, when given, becomes the peer port and is stored).
   * {@code role} is what this daemon becomes: primary (default) or companion.
   */
  public PairingOffer listen(Integer port, String role, String advertisedHost) throws IOException {
    return pairingListener.listen(port, role, advertisedHost);
  }

  /** Completes when the armed code was used to pair (or fails when it was burnt, replaced or expired). */
  public CompletableFuture<Peer> awaitPairing(String code) {
    return pairingListener.awaitPairing(code);
  }

  /** {@code tether pair connect}: pairs with the daemon listening at {@code address} using its one-time code. */
  public Peer pair(String address, String code) throws IOException {
    return pairingConnector.pair(address, code);
  }

  public static InetSocketAddress parseAddress(String address) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "address " + address + " is not HOST:PORT");
    }
    try {
      String host = address.substring(0, colon).replace("[", "").replace("]", "");
      return new InetSocketAddress(host, Integer.parseInt(address.substring(colon + 1)));
    } catch (IllegalArgumentException e) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "address " + address + " is not HOST:PORT: " + e.getMessage());
    }
  }

  // ---------------------------------------------------------------------------------------------------- links

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
      Thread t = new Thread(() -> serve(socket, tcp), "tether-link-serve");
      t.setDaemon(true);
      t.start();
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
        pairingListener.serve(s, theirs, in, first);
        return;
      }
      if (!LinkFrame.LINK_HELLO.is(first)) {
        log.warn("peer {} opened with {}, not link.hello; closing", fp, first.type());
        return;
      }
      new FrameCodec().write(s.getOutputStream(), LinkFrame.LINK_WELCOME.frame(Json.object()));
      handedOver = true;
      RelayTunnel r = relay.tunnel();
      boolean relayed = r != null && s.getInetAddress().isLoopbackAddress() && r.isBridge(s.getPort());
      attach(s, tcp, in, fp, relayed ? RELAY : DIRECT);
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

  /** Hands a connection that passed the hello to a new link; {@code tcp} is the socket under its TLS, or null. */
  private void attach(SSLSocket s, BatchingSocket tcp, DataInputStream in, String fp, String via) throws IOException {
    PeerLink link = new PeerLink(s, tcp, in, fp, new PeerLink.Handler() {
      @Override
      public void frame(PeerLink l, Frame frame, byte[] attachment) throws Exception {
        listener.frame(l, frame, attachment);
      }

      @Override
      public byte[] attachmentBuffer(PeerLink l, Frame frame, int length) throws InterruptedException {
        return listener.attachmentBuffer(l, frame, length);
      }

      @Override
      public void closed(PeerLink l) {
        if (links.remove(fp, l)) {
          listener.linkDown(l);
        }
      }
    }, timers, heartbeatMillis, deadAfterMillis);
    PeerLink old = links.put(fp, link);
    if (old != null) {
      old.close();
    }
    String before = vias.put(fp, via);
    if (before != null && !before.equals(via)) {
      log.info(via.equals(RELAY) ? "link to peer {} switched to the relay" : "link to peer {} is direct again", fp);
    }
    log.info("link to peer {} is up ({})", fp, via);
    dialFailures.remove(fp);
    listener.linkUp(link);
    link.startReading();
  }

  private void startDialer(String fp) {
    Thread t = new Thread(() -> dialLoop(fp), "tether-link-dial-" + fp.substring(0, 8));
    t.setDaemon(true);
    Thread old = dialers.put(fp, t);
    if (old != null) {
      old.interrupt();
    }
    t.start();
  }

  private void dialLoop(String fp) {
    long backoff = 100;
    int directFailures = 0;
    int relayFailures = 0;
    while (!closed && dialers.get(fp) == Thread.currentThread()) {
      Peer p = directory.get(fp);
      if (p == null) {
        return;
      }
      RelayTunnel r = relay.tunnel();
      boolean viaRelay = r != null && directFailures >= DIRECT_FAILURES_BEFORE_RELAY
          && relayFailures < RELAY_FAILURES_BEFORE_DIRECT;
      try {
        PeerLink l = links.get(fp);
        if (l == null || !l.isOpen()) {
          if (viaRelay) {
            dialRelay(p, r);
            relayFailures = 0;
          } else {
            dial(p);
            directFailures = 0;
            relayFailures = 0;
          }
          backoff = 100;
        }
        PeerLink up = links.get(fp);
        long nextProbe = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(directProbeMillis);
        while (up != null && up.isOpen() && !closed) {
          synchronized (up) {
            up.wait(200);
          }
          if (RELAY.equals(vias.get(fp)) && System.nanoTime() - nextProbe > 0) {
            directFailures = probeDirect(p) ? 0 : directFailures;
            nextProbe = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(directProbeMillis);
            up = links.get(fp);
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (IOException | RuntimeException e) {
        if (viaRelay) {
          relayFailures++;
          log.debug("dialing peer {} through the relay failed: {}", fp, e.toString());
        } else {
          directFailures++;
          relayFailures = 0;
          log.debug("dialing peer {} at {} failed: {}", fp, p.address(), e.toString());
        }
        noteDialFailure(p, e, viaRelay);
        try {
          Thread.sleep(backoff + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
        } catch (InterruptedException ie) {
          return;
        }
        backoff = Math.min(maxDialBackoffMillis, backoff * 2);
      }
    }
  }

  /** Why dialing a peer failed, and when: kept while its link is down. */
  public record DialFailure(String message, Instant at) {}

  /** Why the last dial of this peer failed, while its link is down (empty once it is up, and on the listening side). */
  public Optional<DialFailure> dialFailure(String fp) {
    return isUp(fp) ? Optional.empty() : Optional.ofNullable(dialFailures.get(fp));
  }

  private void noteDialFailure(Peer p, Exception e, boolean viaRelay) {
    String why = (viaRelay ? "through the relay: " : "") + explainDialFailure(e, p);
    DialFailure before = dialFailures.put(p.fingerprint(), new DialFailure(why, Instant.now()));
    if (before == null || !before.message().equals(why)) {
      log.warn("cannot link to peer {}: {}", p.fingerprint(), why);
    }
  }

  /** The peer accepted the TCP connection and closed it during the TLS handshake or the hello. */
  private static final class HandshakeClosed extends IOException {
    HandshakeClosed(java.net.SocketException cause) {
      super("the connection was closed in the handshake: " + cause.getMessage(), cause);
    }
  }

  /** A dial's failure in words that say what to do. */
  static String explainDialFailure(Exception e, Peer p) {
    String address = p.address();
    String unpair = "'tether unpair " + p.fingerprint().substring(0, 12) + "' here, then pair the two devices again";
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof java.security.cert.CertificateException) {
        return "the device at " + address + " presents a certificate this device did not pin (" + c.getMessage()
            + "): it was reset or is another device; if it was reset, run " + unpair;
      }
    }
    String m = String.valueOf(e.getMessage());
    if (e instanceof javax.net.ssl.SSLException || e instanceof HandshakeClosed || m.contains("did not welcome")) {
      // one text for the ways a refusal shows (an alert, a closed socket), so that the log line does not flap
      return "the device at " + address + " ends every link this device opens: it no longer trusts this device, most"
          + " likely because it unpaired it; run " + unpair;
    }
    if (e instanceof java.net.ConnectException) {
      return "nothing accepts connections at " + address + " (" + m + "): is tetherd running on the other device, and is"
          + " this still its address and peer port?";
    }
    if (e instanceof java.net.SocketTimeoutException) {
      return "no answer from " + address + " in time (" + m + "): the device is off, asleep or out of reach";
    }
    if (e instanceof java.net.UnknownHostException) {
      return "the host of " + address + " is unknown (" + m + ")";
    }
    return e.getClass().getSimpleName() + ": " + m + " (dialing " + address + ")";
  }

  /** While the link runs through the relay: tries the direct path, and moves the link there when it works. */
  private boolean probeDirect(Peer p) {
    try {
      dial(p);
      return true;
    } catch (IOException | RuntimeException e) {
      log.debug("peer {} is still not reachable directly: {}", p.fingerprint(), e.toString());
      return false;
    }
  }

  private void dial(Peer p) throws IOException {
    InetSocketAddress target = parseAddress(p.address());
    SSLContext ctx = PinnedTls.context(identity, fp -> fp.equals(p.fingerprint()));
    BatchingSocket tcp = new BatchingSocket();
    boolean ok = false;
    try {
      tcp.connect(target, 5_000);
      SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(tcp, target.getHostString(), target.getPort(), true);
      try {
        ok = handshake(s, tcp, p, DIRECT);
      } catch (java.net.SocketException e) {
        // the peer accepted the connection and closed it in the handshake: how a refused certificate often shows
        throw new HandshakeClosed(e);
      }
    } finally {
      if (!ok) {
        tcp.close();
      }
    }
  }

  /** Dials {@code p} through the relay: the same pinned TLS and hello, layered over the tunnel's loopback socket. */
  private void dialRelay(Peer p, RelayTunnel r) throws IOException {
    Socket plain = r.open(p.fingerprint());
    boolean ok = false;
    try {
      SSLContext ctx = PinnedTls.context(identity, fp -> fp.equals(p.fingerprint()));
      SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, "127.0.0.1", plain.getPort(), true);
      ok = handshake(s, null, p, RELAY);
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
    PeerLink current = links.get(p.fingerprint());
    if (current != null) {
      // a direct link found while the relayed one still runs: the relayed one ends first, so the owner sees it go
      current.close();
    }
    attach(s, tcp, in, p.fingerprint(), via);
    return true;
  }

  @Override
  public void close() {
    closed = true;
    for (Thread t : dialers.values()) {
      t.interrupt();
    }
    try {
      if (server != null) {
        server.close();
      }
    } catch (IOException ignored) {
      // closing anyway
    }
    for (PeerLink l : List.copyOf(links.values())) {
      l.close();
    }
    relay.close();
    timers.shutdownNow();
  }
}
