package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.relay.RelayBroker;
import dev.tether.daemon.internal.relay.RelayTunnel;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Frame;
import dev.tether.protocol.Json;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on its callers' threads (the daemon's start, IPC requests) and keeps no state of its own: the facade of the
 * paired peers and the links to them, which wires the parts below; each part says which thread runs it.
 *
 * <ul>
 *   <li>{@link PeerDirectory}: the pinned peers, written through {@link LinkStore} (all SQL of the link).
 *   <li>{@link PairingListener} and {@link PairingConnector}: the pairing protocol. {@link #listen} arms a one-time
 *       code (16 characters of Crockford base32: 80 random bits) on this daemon's peer port; {@link #pair} on the
 *       other daemon opens TLS 1.3 to it, and both sides prove they know the code with HMAC-SHA256 over both
 *       fingerprints and fresh nonces ({@link PairingCode}), so the code never crosses the wire and a man in the
 *       middle fails the MAC. The third wrong proof burns the code. Both sides then pin the other's certificate.
 *   <li>{@link Acceptor}: the peer port. Every link is mutual TLS 1.3 whose trust manager accepts exactly the pinned
 *       certificates (and, while a code is armed, the one connection that pairs).
 *   <li>{@link Dialer}: the side that paired with {@code pair connect} dials whenever the link is down, the way
 *       {@link DialPolicy} says: back-off 100 ms doubling to 5 s ({@code -Dtether.link.maxBackoffMillis}) with
 *       jitter; with a relay set, through the relay after {@value DialPolicy#DIRECT_FAILURES_BEFORE_RELAY} failed
 *       direct dials, and direct again every {@code tether.relay.directProbeMillis} (30 s) while relayed.
 *   <li>{@link LinkTable}: the open {@link PeerLink} to each peer and how it runs ({@link #DIRECT} or {@link #RELAY}).
 *   <li>{@link RelaySettings}: the relay broker setting and its {@link RelayTunnel}; the accepting side takes relayed
 *       connections on its own port like any other, so TLS runs end to end and the broker sees only TLS records.
 * </ul>
 */
public final class LinkManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LinkManager.class);
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

  /** What {@code tether pair listen} prints. */
  public record PairingOffer(String address, String code, String role, Instant expires) {}

  /** Why dialing a peer failed, and when: kept while its link is down. */
  public record DialFailure(String message, Instant at) {}

  private final Identity identity;
  private final Listener listener;
  private final LinkStore linkStore;
  private final PeerDirectory directory;
  private final ScheduledExecutorService timers = Threads.timer("tether-link-timers");
  private final LinkTable links;
  private final RelaySettings relay;
  private final PairingListener pairingListener;
  private final PairingConnector pairingConnector;
  private final Acceptor acceptor;
  private final DialFailures dialFailures = new DialFailures();
  private final Dialer dialer;

  public LinkManager(Store store, Identity identity, Listener listener, long heartbeatMillis, long deadAfterMillis) {
    this.identity = identity;
    this.listener = listener;
    this.linkStore = new LinkStore(store);
    this.directory = new PeerDirectory(linkStore, listener::activePeerChanged);
    this.links = new LinkTable(listener, timers, heartbeatMillis, deadAfterMillis);
    this.relay = new RelaySettings(linkStore, identity.fingerprint(), directory::contains, this::port,
        this::relayChanged);
    SSLContext linkContext = PinnedTls.context(identity, this::acceptable);
    this.acceptor = new Acceptor(linkStore, linkContext, directory,
        this::servePairing, links, relay::tunnel);
    this.pairingListener = new PairingListener(identity, directory, new PairingListener.PeerPort() {
      @Override
      public void bind(int port) throws IOException {
        acceptor.bind(port);
      }

      @Override
      public int port() {
        return acceptor.port();
      }
    }, timers);
    // the longest pause between failed dials (tests that restart the listening daemon shorten it)
    long maxBackoffMillis = Long.getLong("tether.link.maxBackoffMillis", 5_000);
    long directProbeMillis = Long.getLong("tether.relay.directProbeMillis", 30_000);
    this.dialer = new Dialer(directory, links, new LinkOpener(identity, links), relay::tunnel, dialFailures, timers,
        maxBackoffMillis, directProbeMillis);
    links.events(dialer);
    this.pairingConnector = new PairingConnector(identity, directory, p -> dialer.add(p.fingerprint()));
  }

  private void relayChanged() {
    dialer.relayChanged();
  }

  private void servePairing(SSLSocket s, X509Certificate theirs, DataInputStream in, Frame hello) throws IOException {
    pairingListener.serve(s, theirs, in, hello);
  }

  /** The TLS trust of the peer port: a pinned peer, or anyone while a pairing code is armed. */
  private boolean acceptable(String fingerprint) {
    return directory.contains(fingerprint) || pairingListener.isArmed();
  }

  public Identity identity() {
    return identity;
  }

  /** Loads the pinned peers, binds the peer port (the stored one, else an ephemeral one that is then stored). */
  public void start() throws IOException {
    directory.load();
    Integer stored = linkStore.peerPort();
    acceptor.bind(stored == null ? 0 : stored);
    relay.load();
    for (Peer p : directory.all()) {
      if (p.address() != null) {
        dialer.add(p.fingerprint());
      }
    }
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

  // ---------------------------------------------------------------------------------------------------- links

  /** How the link to {@code peer} runs ({@link #DIRECT} or {@link #RELAY}); null when it is down. */
  public String via(String peer) {
    return links.via(peer);
  }

  /** The TCP port peers connect to. */
  public int port() {
    return acceptor.port();
  }

  public boolean isUp(String peer) {
    return links.isUp(peer);
  }

  public Optional<PeerLink> link(String peer) {
    return links.link(peer);
  }

  /** Why the last dial of this peer failed, while its link is down (empty once it is up, and on the listening side). */
  public Optional<DialFailure> dialFailure(String fp) {
    return isUp(fp) ? Optional.empty() : dialFailures.get(fp);
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

  /** Makes {@code peer} (a companion) the active one; sessions of the old active one become inactive. */
  public Peer activate(String peerId) {
    return directory.activate(peerId);
  }

  /** Forgets a peer: its pin, its link and its dialer. */
  public Peer unpair(String peerId) {
    Peer p = directory.remove(peerId);
    dialer.remove(p.fingerprint());
    links.remove(p.fingerprint());
    listener.unpaired(p.fingerprint());
    log.info("unpaired peer {}", p.fingerprint());
    return p;
  }

  // ---------------------------------------------------------------------------------------------------- pairing

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

  @Override
  public void close() {
    dialer.close();
    acceptor.close();
    links.closeAll();
    relay.close();
    timers.shutdownNow();
  }
}
