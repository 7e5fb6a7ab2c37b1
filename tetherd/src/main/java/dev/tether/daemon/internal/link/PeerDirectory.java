package dev.tether.daemon.internal.link;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on its caller's thread (IPC requests, a pairing, the TLS trust checks of the acceptor and the dialers): the
 * pinned peers, read from a concurrent map by any thread; changes are written through {@link LinkStore} (returning
 * after the COMMIT) under the directory's lock, and {@link ActiveChange} hears about a new active companion after the
 * lock is released.
 */
final class PeerDirectory {
  private static final Logger log = LoggerFactory.getLogger(PeerDirectory.class);

  /** Told when the active companion changes (primary side): {@code oldPeer} may be null. */
  interface ActiveChange {
    void changed(String oldPeer, String newPeer);
  }

  private final LinkStore store;
  private final ActiveChange activeChange;
  private final Map<String, Peer> peers = new ConcurrentHashMap<>();

  PeerDirectory(LinkStore store, ActiveChange activeChange) {
    this.store = store;
    this.activeChange = activeChange;
  }

  /** Loads the pinned peers from the store. */
  void load() {
    for (Peer p : store.peers()) {
      peers.put(p.fingerprint(), p);
    }
  }

  boolean contains(String fingerprint) {
    return peers.containsKey(fingerprint);
  }

  /** The peer pinned as {@code fingerprint}, or null. */
  Peer get(String fingerprint) {
    return peers.get(fingerprint);
  }

  boolean isEmpty() {
    return peers.isEmpty();
  }

  int size() {
    return peers.size();
  }

  /** Every pinned peer, the longest paired first. */
  List<Peer> all() {
    List<Peer> list = new ArrayList<>(peers.values());
    list.sort(Comparator.comparing(Peer::pairedAt));
    return list;
  }

  /** The peer with this fingerprint, or the one whose fingerprint starts with it (refused when several do). */
  Optional<Peer> find(String fingerprintOrPrefix) {
    Peer exact = peers.get(fingerprintOrPrefix);
    if (exact != null) {
      return Optional.of(exact);
    }
    List<Peer> matches = peers.values().stream()
        .filter(p -> p.fingerprint().startsWith(fingerprintOrPrefix.toLowerCase())).toList();
    if (matches.size() > 1) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "peer prefix " + fingerprintOrPrefix + " matches "
          + matches.size() + " peers; give more characters");
    }
    return matches.stream().findFirst();
  }

  /** {@link #find}, refused with {@code DEVICE_NOT_PAIRED} when there is no such peer. */
  Peer require(String fingerprintOrPrefix) {
    return find(fingerprintOrPrefix).orElseThrow(() -> new TetherException(ErrorCode.DEVICE_NOT_PAIRED,
        "no paired peer " + fingerprintOrPrefix + "; 'tether peers' lists them"));
  }

  /** The role this daemon has: "companion" when its only peer is a primary, else "primary". */
  String localRole() {
    return peers.values().stream().anyMatch(p -> p.role().equals("primary")) ? "companion" : "primary";
  }

  /** The peer this daemon's sessions talk to: the primary of a companion, the active companion of a primary. */
  Optional<Peer> counterpart() {
    return peers.values().stream().filter(p -> p.role().equals("primary") || p.active()).findFirst();
  }

  /** Makes {@code peerId} (a companion) the active one. */
  Peer activate(String peerId) {
    Peer p = require(peerId);
    if (!p.role().equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "peer " + p.fingerprint() + " is this device's primary; "
          + "only a primary switches between companions");
    }
    Optional<Peer> old;
    Peer now;
    synchronized (this) {
      old = counterpart();
      if (old.isPresent() && old.get().fingerprint().equals(p.fingerprint())) {
        return p;
      }
      store.activateOnly(p.fingerprint());
      for (Peer q : List.copyOf(peers.values())) {
        peers.put(q.fingerprint(), with(q, q.fingerprint().equals(p.fingerprint())));
      }
      now = peers.get(p.fingerprint());
    }
    activeChange.changed(old.map(Peer::fingerprint).orElse(null), p.fingerprint());
    return now;
  }

  /** Forgets the pin of {@code peerId}; returns the peer it was. */
  synchronized Peer remove(String peerId) {
    Peer p = require(peerId);
    store.deletePeer(p.fingerprint());
    peers.remove(p.fingerprint());
    return p;
  }

  /** Pins {@code cert} as a peer in {@code peerRole}, dialed at {@code address} (null on the listening side). */
  Peer remember(X509Certificate cert, String peerRole, String address) {
    String fp = Identity.fingerprint(cert);
    boolean becomesActive = peerRole.equals("companion");
    byte[] der;
    try {
      der = cert.getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
    Peer p = new Peer(fp, der, peerRole, address, becomesActive, Instant.now());
    Optional<Peer> oldActive;
    synchronized (this) {
      store.savePeer(p);
      oldActive = counterpart();
      if (becomesActive) {
        for (Peer q : List.copyOf(peers.values())) {
          if (q.active()) {
            peers.put(q.fingerprint(), with(q, false));
          }
        }
      }
      peers.put(fp, p);
    }
    if (becomesActive && oldActive.isPresent() && !oldActive.get().fingerprint().equals(fp)) {
      activeChange.changed(oldActive.get().fingerprint(), fp);
    } else if (becomesActive && oldActive.isEmpty()) {
      activeChange.changed(null, fp);
    }
    log.info("paired with peer {} ({})", fp, peerRole);
    return p;
  }

  private static Peer with(Peer q, boolean active) {
    return new Peer(q.fingerprint(), q.certificate(), q.role(), q.address(), active, q.pairedAt());
  }
}
