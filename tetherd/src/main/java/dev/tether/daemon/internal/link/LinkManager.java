package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.relay.ClientCertificate;
import dev.tether.daemon.internal.relay.RelayBroker;
import dev.tether.daemon.internal.relay.RelayTunnel;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
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
  private static final char[] BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
  private static final int MAX_TRIES = 3;
  private static final Duration CODE_LIFETIME = Duration.ofMinutes(10);
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

  private final class Offer {
    final String code;
    final String localRole;
    final Instant expires;
    int tries;
    boolean used;
    final CompletableFuture<Peer> done = new CompletableFuture<>();

    Offer(String code, String localRole, Instant expires) {
      this.code = code;
      this.localRole = localRole;
      this.expires = expires;
    }
  }

  private final Store store;
  private final Identity identity;
  private final Listener listener;
  private final Map<String, Peer> peers = new ConcurrentHashMap<>();
  private final Map<String, PeerLink> links = new ConcurrentHashMap<>();
  private final Map<String, Thread> dialers = new ConcurrentHashMap<>();
  /** How the current (or last) link to each peer runs: {@link #DIRECT} or {@link #RELAY}. */
  private final Map<String, String> vias = new ConcurrentHashMap<>();
  private final long directProbeMillis = Long.getLong("tether.relay.directProbeMillis", 30_000);
  /** Why the last dial of each peer failed, while its link is down (what {@code tether peers} shows). */
  private final Map<String, DialFailure> dialFailures = new ConcurrentHashMap<>();
  /** The longest pause between failed dials (tests that restart the listening daemon shorten it). */
  private final long maxDialBackoffMillis = Math.max(100, Long.getLong("tether.link.maxBackoffMillis", 5_000));
  private volatile RelayTunnel relay;
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "tether-link-timers");
    t.setDaemon(true);
    return t;
  });
  private final long heartbeatMillis;
  private final long deadAfterMillis;
  private final SSLContext linkContext;
  private volatile ServerSocket server;
  private volatile Offer offer;
  private volatile boolean closed;

  public LinkManager(Store store, Identity identity, Listener listener, long heartbeatMillis, long deadAfterMillis) {
    this.store = store;
    this.identity = identity;
    this.listener = listener;
    this.heartbeatMillis = heartbeatMillis;
    this.deadAfterMillis = deadAfterMillis;
    this.linkContext = PinnedTls.context(identity, this::acceptable);
  }

  private boolean acceptable(String fingerprint) {
    if (peers.containsKey(fingerprint)) {
      return true;
    }
    Offer o = offer;
    return o != null && !o.used && !o.done.isDone() && Instant.now().isBefore(o.expires);
  }

  public Identity identity() {
    return identity;
  }

  /** Loads the pinned peers, binds the peer port (the stored one, else an ephemeral one that is then stored). */
  public void start() throws IOException {
    for (Peer p : store.read(c -> {
      List<Peer> list = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement("SELECT fingerprint, cert, peer_role, address, active, paired_at FROM cx_peers");
           ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          list.add(new Peer(rs.getString(1), rs.getBytes(2), rs.getString(3), rs.getString(4), rs.getInt(5) != 0,
              Instant.ofEpochMilli(rs.getLong(6))));
        }
      }
      return list;
    })) {
      peers.put(p.fingerprint(), p);
    }
    String stored = setting("peer_port");
    bind(stored == null ? 0 : Integer.parseInt(stored));
    Object[] row = store.read(c -> {
      try (PreparedStatement s = c.prepareStatement(
          "SELECT broker, username, password, ca_pem, client_cert_pem, client_key_pem FROM cx_relay WHERE id = 1");
           ResultSet rs = s.executeQuery()) {
        return rs.next() ? new Object[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
            rs.getString(5), rs.getString(6)} : null;
      }
    });
    RelayBroker broker = row == null ? null : storedBroker(row);
    if (broker != null) {
      startRelay(broker);
    }
    for (Peer p : peers.values()) {
      if (p.address() != null) {
        startDialer(p.fingerprint());
      }
    }
  }

  private String setting(String key) {
    return store.read(c -> {
      try (PreparedStatement s = c.prepareStatement("SELECT value FROM cx_settings WHERE key = ?")) {
        s.setString(1, key);
        try (ResultSet rs = s.executeQuery()) {
          return rs.next() ? rs.getString(1) : null;
        }
      }
    });
  }

  private void saveSetting(String key, String value) {
    store.writeAndWait(c -> {
      try (PreparedStatement s = c.prepareStatement("INSERT INTO cx_settings(key, value) VALUES (?, ?) "
          + "ON CONFLICT(key) DO UPDATE SET value = excluded.value")) {
        s.setString(1, key);
        s.setString(2, value);
        s.executeUpdate();
      }
      return null;
    });
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
    saveSetting("peer_port", Integer.toString(s.getLocalPort()));
    Thread t = new Thread(() -> acceptLoop(s), "tether-link-accept");
    t.setDaemon(true);
    t.start();
    log.info("listening for peers on port {}", s.getLocalPort());
  }

  // ---------------------------------------------------------------------------------------------------- relay

  private static RelayBroker storedBroker(Object[] row) {
    try {
      return RelayBroker.parse((String) row[0], (String) row[1], (String) row[2], (String) row[3], (String) row[4],
          (String) row[5]);
    } catch (TetherException e) {
      // only a setting that passed these checks is stored; a stricter later version may refuse an old one
      log.warn("the stored relay broker setting is no longer valid, so the relay is off: {}", e.getMessage());
      return null;
    }
  }

  /**
   * Sets (checked by {@link RelayBroker#parse}) or, with null, clears the relay broker and its credentials; stored
   * durably, effective at once. Links that run through the relay when it is cleared or changed drop and are dialed
   * again.
   */
  public synchronized void setRelay(RelayBroker broker) {
    store.writeAndWait(c -> {
      if (broker == null) {
        try (PreparedStatement s = c.prepareStatement("DELETE FROM cx_relay")) {
          s.executeUpdate();
        }
      } else {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO cx_relay(id, broker, username, password, ca_pem, "
            + "client_cert_pem, client_key_pem) VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            + "broker = excluded.broker, username = excluded.username, password = excluded.password, "
            + "ca_pem = excluded.ca_pem, client_cert_pem = excluded.client_cert_pem, "
            + "client_key_pem = excluded.client_key_pem")) {
          ClientCertificate cert = broker.clientCert();
          s.setString(1, broker.uri());
          s.setString(2, broker.username());
          s.setString(3, broker.password());
          s.setString(4, broker.caPem());
          s.setString(5, cert == null ? null : cert.chainPem());
          s.setString(6, cert == null ? null : cert.keyPem());
          s.executeUpdate();
        }
      }
      return null;
    });
    RelayTunnel old = relay;
    relay = null;
    if (old != null) {
      old.close();
      log.info("relay through {} stopped", old.broker().uri());
    }
    if (broker != null) {
      startRelay(broker);
    }
  }

  private synchronized void startRelay(RelayBroker broker) {
    RelayTunnel t = new RelayTunnel(broker, identity.fingerprint(), peers::containsKey, this::port);
    relay = t;
    t.start();
    if (!broker.tls() && broker.password() != null) {
      log.warn("the relay sends its MQTT password to {} unencrypted (mqtt://); use mqtts:// where the broker offers TLS",
          broker.address());
    }
    ClientCertificate cert = broker.clientCert();
    log.info("relaying through the MQTT broker {}{}{} when a peer cannot be reached directly", broker.uri(),
        broker.username() == null ? "" : " as " + broker.username(),
        cert == null ? "" : " with the client certificate " + cert.describe());
    if (cert != null && (cert.expired(Instant.now()) || cert.notYetValid(Instant.now()))) {
      log.warn("the relay's client certificate {} is {}: the broker will likely refuse it; set a valid one with tether "
          + "relay set {} --cert-file CERT.pem --key-file KEY.pem", cert.subject(),
          cert.expired(Instant.now()) ? "expired since " + cert.notAfter() : "not valid before " + cert.notBefore(),
          broker.uri());
    }
  }

  /**
   * The relay's state: {@code broker} (the URL, null when none is set), {@code tls}, {@code username} (null when none),
   * {@code passwordSet}, {@code customCa}, {@code clientCert} (null, or its {@code subject}, {@code issuer},
   * {@code notBefore}, {@code notAfter}, {@code expired}, {@code notYetValid}; never the key), {@code connected},
   * {@code lastError} and {@code lastErrorAt} (when the
   * connection last failed or ended, absent when it has not), {@code streams}. Never the password.
   */
  public ObjectNode relayStatus() {
    ObjectNode o = Json.object();
    RelayTunnel t = relay;
    if (t == null) {
      o.putNull("broker");
      o.put("connected", false);
      return o;
    }
    RelayBroker b = t.broker();
    o.put("broker", b.uri());
    o.put("tls", b.tls());
    if (b.username() == null) {
      o.putNull("username");
    } else {
      o.put("username", b.username());
    }
    o.put("passwordSet", b.password() != null);
    o.put("customCa", b.caPem() != null);
    ClientCertificate cert = b.clientCert();
    if (cert == null) {
      o.putNull("clientCert");
    } else {
      Instant now = Instant.now();
      ObjectNode cc = o.putObject("clientCert");
      cc.put("subject", cert.subject());
      cc.put("issuer", cert.issuer());
      cc.put("notBefore", cert.notBefore().toString());
      cc.put("notAfter", cert.notAfter().toString());
      cc.put("expired", cert.expired(now));
      cc.put("notYetValid", cert.notYetValid(now));
    }
    o.put("connected", t.isConnected());
    if (t.lastError() != null) {
      o.put("lastError", t.lastError());
      o.put("lastErrorAt", t.lastErrorAt().toString());
    }
    o.put("streams", t.streams());
    return o;
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
    List<Peer> list = new ArrayList<>(peers.values());
    list.sort((a, b) -> a.pairedAt().compareTo(b.pairedAt()));
    return list;
  }

  public Optional<Peer> peer(String fingerprintOrPrefix) {
    Peer exact = peers.get(fingerprintOrPrefix);
    if (exact != null) {
      return Optional.of(exact);
    }
    List<Peer> matches = peers.values().stream().filter(p -> p.fingerprint().startsWith(fingerprintOrPrefix.toLowerCase())).toList();
    if (matches.size() > 1) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "peer prefix " + fingerprintOrPrefix + " matches "
          + matches.size() + " peers; give more characters");
    }
    return matches.stream().findFirst();
  }

  /** The role this daemon has: "companion" when its only peer is a primary, else "primary". */
  public String localRole() {
    return peers.values().stream().anyMatch(p -> p.role().equals("primary")) ? "companion" : "primary";
  }

  /** The peer this daemon's sessions talk to: the primary of a companion, the active companion of a primary. */
  public Optional<Peer> counterpart() {
    return peers.values().stream().filter(p -> p.role().equals("primary") || p.active()).findFirst();
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
    Peer p = peer(peerId).orElseThrow(() -> unknownPeer(peerId));
    if (!p.role().equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "peer " + p.fingerprint() + " is this device's primary; "
          + "only a primary switches between companions");
    }
    Optional<Peer> old = counterpart();
    if (old.isPresent() && old.get().fingerprint().equals(p.fingerprint())) {
      return p;
    }
    store.writeAndWait(c -> {
      try (PreparedStatement s = c.prepareStatement("UPDATE cx_peers SET active = (fingerprint = ?)")) {
        s.setString(1, p.fingerprint());
        s.executeUpdate();
      }
      return null;
    });
    for (Peer q : List.copyOf(peers.values())) {
      peers.put(q.fingerprint(), new Peer(q.fingerprint(), q.certificate(), q.role(), q.address(),
          q.fingerprint().equals(p.fingerprint()), q.pairedAt()));
    }
    listener.activePeerChanged(old.map(Peer::fingerprint).orElse(null), p.fingerprint());
    return peers.get(p.fingerprint());
  }

  /** Forgets a peer: its pin, its link and its dialer. */
  public Peer unpair(String peerId) {
    Peer p = peer(peerId).orElseThrow(() -> unknownPeer(peerId));
    store.writeAndWait(c -> {
      try (PreparedStatement s = c.prepareStatement("DELETE FROM cx_peers WHERE fingerprint = ?")) {
        s.setString(1, p.fingerprint());
        s.executeUpdate();
      }
      return null;
    });
    peers.remove(p.fingerprint());
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

  private static TetherException unknownPeer(String id) {
    return new TetherException(ErrorCode.DEVICE_NOT_PAIRED, "no paired peer " + id + "; 'tether peers' lists them");
  }

  private Peer remember(X509Certificate cert, String peerRole, String address) {
    String fp = Identity.fingerprint(cert);
    boolean becomesActive = peerRole.equals("companion");
    byte[] der;
    try {
      der = cert.getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    Instant now = Instant.now();
    store.writeAndWait(c -> {
      if (becomesActive) {
        try (PreparedStatement s = c.prepareStatement("UPDATE cx_peers SET active = 0")) {
          s.executeUpdate();
        }
      }
      try (PreparedStatement s = c.prepareStatement("INSERT INTO cx_peers(fingerprint, cert, peer_role, address, active, paired_at) "
          + "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET cert = excluded.cert, peer_role = excluded.peer_role, "
          + "address = excluded.address, active = excluded.active")) {
        s.setString(1, fp);
        s.setBytes(2, der);
        s.setString(3, peerRole);
        s.setString(4, address);
        s.setInt(5, becomesActive ? 1 : 0);
        s.setLong(6, now.toEpochMilli());
        s.executeUpdate();
      }
      return null;
    });
    Optional<Peer> oldActive = counterpart();
    if (becomesActive) {
      for (Peer q : List.copyOf(peers.values())) {
        if (q.active()) {
          peers.put(q.fingerprint(), new Peer(q.fingerprint(), q.certificate(), q.role(), q.address(), false, q.pairedAt()));
        }
      }
    }
    Peer p = new Peer(fp, der, peerRole, address, becomesActive, now);
    peers.put(fp, p);
    if (becomesActive && oldActive.isPresent() && !oldActive.get().fingerprint().equals(fp)) {
      listener.activePeerChanged(oldActive.get().fingerprint(), fp);
    } else if (becomesActive && oldActive.isEmpty()) {
      listener.activePeerChanged(null, fp);
    }
    log.info("paired with peer {} ({})", fp, peerRole);
    return p;
  }

  // ---------------------------------------------------------------------------------------------------- pairing

  /** What {@code tether pair listen} prints. */
  public record PairingOffer(String address, String code, String role, Instant expires) {}

  /**
   * Arms a one-time pairing code on the peer port ({@code port}, when given, becomes the peer port and is stored).
   * {@code role} is what this daemon becomes: primary (default) or companion.
   */
  public synchronized PairingOffer listen(Integer port, String role, String advertisedHost) throws IOException {
    if (!role.equals("primary") && !role.equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "role must be primary or companion, not " + role);
    }
    if (role.equals("companion") && localRole().equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "this device is already the companion of "
          + counterpart().map(Peer::fingerprint).orElse("?") + "; unpair it first");
    }
    if (role.equals("companion") && !peers.isEmpty()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "this device is the primary of " + peers.size()
          + " companion(s); a device is either a primary or a companion");
    }
    if (role.equals("primary") && localRole().equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "this device is a companion; a device is either a primary or a companion");
    }
    if (port != null) {
      if (port < 0 || port > 65535) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the peer port is 1 to 65535 (or 0 for any free port), not " + port);
      }
      try {
        bind(port);
      } catch (IOException e) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "cannot listen for the other device on port " + port + " ("
            + e.getMessage() + "); choose another port, or leave out the port to keep the current one", e);
      }
    }
    Offer old = offer;
    if (old != null) {
      old.done.completeExceptionally(new TetherException(ErrorCode.PAIRING_FAILED, "a newer pairing code replaced this one"));
    }
    byte[] random = new byte[10];
    new SecureRandom().nextBytes(random);
    String code = base32(random);
    Offer o = new Offer(code, role, Instant.now().plus(CODE_LIFETIME));
    offer = o;
    timers.schedule(() -> o.done.completeExceptionally(new TetherException(ErrorCode.PAIRING_FAILED,
        "the pairing code expired after " + CODE_LIFETIME.toMinutes() + " minutes")), CODE_LIFETIME.toMillis(), TimeUnit.MILLISECONDS);
    String host = advertisedHost != null ? advertisedHost : defaultHost();
    return new PairingOffer(host + ":" + port(), format(code), role, o.expires);
  }

  /** Completes when the armed code was used to pair (or fails when it was burnt, replaced or expired). */
  public CompletableFuture<Peer> awaitPairing(String code) {
    Offer o = offer;
    if (o == null || !o.code.equals(normalize(code))) {
      return CompletableFuture.failedFuture(new TetherException(ErrorCode.PAIRING_FAILED, "no pairing is waiting with this code"));
    }
    return o.done;
  }

  private static String defaultHost() {
    try {
      for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        if (!ni.isUp() || ni.isLoopback()) {
          continue;
        }
        for (InetAddress a : Collections.list(ni.getInetAddresses())) {
          if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
            return a.getHostAddress();
          }
        }
      }
    } catch (IOException e) {
      log.debug("listing network interfaces failed: {}", e.toString());
    }
    return "127.0.0.1";
  }

  private static String base32(byte[] bytes) {
    StringBuilder sb = new StringBuilder();
    int buffer = 0;
    int bits = 0;
    for (byte b : bytes) {
      buffer = (buffer << 8) | (b & 0xff);
      bits += 8;
      while (bits >= 5) {
        sb.append(BASE32[(buffer >> (bits - 5)) & 31]);
        bits -= 5;
      }
    }
    return sb.toString();
  }

  private static String format(String code) {
    return code.substring(0, 4) + "-" + code.substring(4, 8) + "-" + code.substring(8, 12) + "-" + code.substring(12);
  }

  static String normalize(String code) {
    return code.toUpperCase().replace("-", "").replace(" ", "").replace('O', '0').replace('I', '1').replace('L', '1');
  }

  private static byte[] mac(String code, String label, String listenerFp, String connectorFp, String nonceL, String nonceC) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(normalize(code).getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return m.doFinal(String.join("|", "tether-pair-v1", label, listenerFp, connectorFp, nonceL, nonceC)
          .getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String nonce() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** {@code tether pair connect}: pairs with the daemon listening at {@code address} using its one-time code. */
  public Peer pair(String address, String code) throws IOException {
    InetSocketAddress target = parseAddress(address);
    SSLContext ctx = PinnedTls.context(identity, fp -> true);
    SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket();
    try {
      s.connect(target, 10_000);
      s.setSoTimeout(15_000);
      PinnedTls.configure(s);
      s.startHandshake();
      X509Certificate theirs = (X509Certificate) s.getSession().getPeerCertificates()[0];
      String listenerFp = Identity.fingerprint(theirs);
      if (peers.containsKey(listenerFp)) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "already paired with " + listenerFp + "; if that device"
            + " unpaired this one or was reset, run 'tether unpair " + listenerFp.substring(0, 12) + "' here first, then pair again");
      }
      FrameCodec codec = new FrameCodec();
      DataInputStream in = FrameCodec.input(s.getInputStream());
      OutputStream out = s.getOutputStream();
      String nonceC = nonce();
      ObjectNode hello = Json.object();
      hello.put("protocol", Protocol.VERSION);
      hello.put("nonce", nonceC);
      codec.write(out, new Frame("pair.hello", 0, hello));
      Frame challenge = expect(codec.read(in), "pair.challenge");
      String nonceL = challenge.text("nonce");
      String listenerRole = challenge.text("role");
      String myRole = listenerRole.equals("primary") ? "companion" : "primary";
      if (myRole.equals("companion") && !peers.isEmpty()) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the listener is a primary and this device already has peers; "
            + "a companion has exactly one primary");
      }
      if (myRole.equals("primary") && localRole().equals("companion")) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the listener is a companion and so is this device");
      }
      ObjectNode proof = Json.object();
      proof.put("mac", HexFormat.of().formatHex(mac(code, "connector", listenerFp, identity.fingerprint(), nonceL, nonceC)));
      codec.write(out, new Frame("pair.proof", 0, proof));
      Frame answer = codec.read(in);
      if (answer == null || answer.type().equals("pair.refused")) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device refused the pairing: "
            + (answer == null ? "it closed the connection" : answer.text("reason")));
      }
      expect(answer, "pair.accept");
      byte[] theirMac = HexFormat.of().parseHex(answer.text("mac"));
      if (!MessageDigest.isEqual(theirMac, mac(code, "listener", listenerFp, identity.fingerprint(), nonceL, nonceC))) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device could not prove it knows the code; "
            + "someone may be in the middle. Nothing was paired");
      }
      Peer p = remember(theirs, listenerRole, target.getHostString() + ":" + target.getPort());
      codec.write(out, new Frame("pair.done", 0, Json.object()));
      Frame ok = codec.read(in);
      if (ok == null || !ok.type().equals("pair.ok")) {
        log.warn("the listener did not confirm the pairing; it will be retried as a link and refused if it did not pin us");
      }
      startDialer(p.fingerprint());
      return p;
    } catch (javax.net.ssl.SSLException e) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "TLS with " + address + " failed (is a pairing code armed there?): "
          + e.getMessage(), e);
    } finally {
      s.close();
    }
  }

  private static Frame expect(Frame f, String type) {
    if (f == null) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device closed the connection during pairing");
    }
    if (f.type().equals("pair.refused")) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device refused the pairing: " + f.text("reason"));
    }
    if (!f.type().equals(type)) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "unexpected " + f.type() + " during pairing (wanted " + type + ")");
    }
    return f;
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

  private void servePairing(SSLSocket s, X509Certificate theirs, DataInputStream in, Frame hello) throws IOException {
    Offer o = offer;
    FrameCodec codec = new FrameCodec();
    OutputStream out = s.getOutputStream();
    if (o == null || o.used || o.done.isDone() || !Instant.now().isBefore(o.expires)) {
      refuse(codec, out, "no pairing code is armed on this device");
      return;
    }
    if (!hello.type().equals("pair.hello")) {
      refuse(codec, out, "expected pair.hello");
      return;
    }
    String connectorFp = Identity.fingerprint(theirs);
    String nonceC = hello.text("nonce");
    String nonceL = nonce();
    ObjectNode challenge = Json.object();
    challenge.put("nonce", nonceL);
    challenge.put("role", o.localRole);
    codec.write(out, new Frame("pair.challenge", 0, challenge));
    Frame proof = codec.read(in);
    if (proof == null || !proof.type().equals("pair.proof")) {
      return;
    }
    byte[] expected = mac(o.code, "connector", identity.fingerprint(), connectorFp, nonceL, nonceC);
    byte[] given;
    try {
      given = HexFormat.of().parseHex(String.valueOf(proof.text("mac")));
    } catch (IllegalArgumentException e) {
      given = new byte[0];
    }
    synchronized (o) {
      if (o.used || o.done.isDone()) {
        refuse(codec, out, "the pairing code is no longer valid");
        return;
      }
      if (!MessageDigest.isEqual(expected, given)) {
        o.tries++;
        log.warn("wrong pairing code from {} (try {} of {})", s.getRemoteSocketAddress(), o.tries, MAX_TRIES);
        if (o.tries >= MAX_TRIES) {
          o.used = true;
          o.done.completeExceptionally(new TetherException(ErrorCode.PAIRING_FAILED,
              "the pairing code was burnt after " + MAX_TRIES + " wrong tries; run 'tether pair listen' again"));
          refuse(codec, out, "wrong code; the code is now burnt after " + MAX_TRIES + " wrong tries");
        } else {
          refuse(codec, out, "wrong code (" + (MAX_TRIES - o.tries) + " tries left)");
        }
        return;
      }
      o.used = true;
    }
    ObjectNode accept = Json.object();
    accept.put("mac", HexFormat.of().formatHex(mac(o.code, "listener", identity.fingerprint(), connectorFp, nonceL, nonceC)));
    codec.write(out, new Frame("pair.accept", 0, accept));
    Frame done = codec.read(in);
    if (done == null || !done.type().equals("pair.done")) {
      o.done.completeExceptionally(new TetherException(ErrorCode.PAIRING_FAILED, "the other device gave up before finishing"));
      return;
    }
    String peerRole = o.localRole.equals("primary") ? "companion" : "primary";
    Peer p = remember(theirs, peerRole, null);
    codec.write(out, new Frame("pair.ok", 0, Json.object()));
    o.done.complete(p);
  }

  private static void refuse(FrameCodec codec, OutputStream out, String reason) throws IOException {
    ObjectNode b = Json.object();
    b.put("reason", reason);
    codec.write(out, new Frame("pair.refused", 0, b));
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
      if (!peers.containsKey(fp)) {
        servePairing(s, theirs, in, first);
        return;
      }
      if (!first.type().equals("link.hello")) {
        log.warn("peer {} opened with {}, not link.hello; closing", fp, first.type());
        return;
      }
      new FrameCodec().write(s.getOutputStream(), new Frame("link.welcome", 0, Json.object()));
      handedOver = true;
      RelayTunnel r = relay;
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
      Peer p = peers.get(fp);
      if (p == null) {
        return;
      }
      RelayTunnel r = relay;
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
    codec.write(s.getOutputStream(), new Frame("link.hello", 0, hello));
    DataInputStream in = FrameCodec.input(s.getInputStream());
    Frame welcome = codec.read(in);
    if (welcome == null || !welcome.type().equals("link.welcome")) {
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
    RelayTunnel r = relay;
    if (r != null) {
      r.close();
    }
    timers.shutdownNow();
  }
}
