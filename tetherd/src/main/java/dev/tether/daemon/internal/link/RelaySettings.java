package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.relay.ClientCertificate;
import dev.tether.daemon.internal.relay.RelayBroker;
import dev.tether.daemon.internal.relay.RelayTunnel;
import dev.tether.protocol.Json;
import java.time.Instant;
import java.util.function.IntSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on its caller's thread (the daemon's start, IPC requests): the relay broker setting and the {@link RelayTunnel}
 * that runs for it. Changes are stored through {@link LinkStore} and serialized by this object's lock; the dialers
 * and the acceptor read the current tunnel from a volatile field, and {@code changed} is run after each change.
 */
final class RelaySettings implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RelaySettings.class);

  private final LinkStore store;
  private final String self;
  private final Predicate<String> paired;
  private final IntSupplier linkPort;
  private final Runnable changed;
  private volatile RelayTunnel tunnel;

  /**
   * {@code self} is this daemon's fingerprint, {@code paired} says whether a fingerprint is a pinned peer, and
   * {@code linkPort} is the peer port the far end of a tunnel is bridged to.
   */
  RelaySettings(LinkStore store, String self, Predicate<String> paired, IntSupplier linkPort, Runnable changed) {
    this.store = store;
    this.self = self;
    this.paired = paired;
    this.linkPort = linkPort;
    this.changed = changed;
  }

  /** Starts the relay of the stored setting, if there is one. */
  void load() {
    LinkStore.StoredRelay row = store.relay();
    RelayBroker broker = row == null ? null : storedBroker(row);
    if (broker != null) {
      start(broker);
    }
  }

  private static RelayBroker storedBroker(LinkStore.StoredRelay row) {
    try {
      return RelayBroker.parse(row.broker(), row.username(), row.password(), row.caPem(), row.clientCertPem(),
          row.clientKeyPem());
    } catch (TetherException e) {
      // only a setting that passed these checks is stored; a stricter later version may refuse an old one
      log.warn("the stored relay broker setting is no longer valid, so the relay is off: {}", e.getMessage());
      return null;
    }
  }

  /** The tunnel of the current setting, or null when no relay is set. */
  RelayTunnel tunnel() {
    return tunnel;
  }

  /**
   * Sets (checked by {@link RelayBroker#parse}) or, with null, clears the relay broker and its credentials; stored
   * durably, effective at once. Links that run through the old tunnel drop with it.
   */
  synchronized void set(RelayBroker broker) {
    store.saveRelay(broker);
    RelayTunnel old = tunnel;
    tunnel = null;
    if (old != null) {
      old.close();
      log.info("relay through {} stopped", old.broker().uri());
    }
    if (broker != null) {
      start(broker);
    }
    changed.run();
  }

  private synchronized void start(RelayBroker broker) {
    RelayTunnel t = new RelayTunnel(broker, self, paired, linkPort);
    tunnel = t;
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

  /** See {@link LinkManager#relayStatus}. */
  ObjectNode status() {
    ObjectNode o = Json.object();
    RelayTunnel t = tunnel;
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

  /** Stops the tunnel (the setting stays stored). */
  @Override
  public void close() {
    RelayTunnel t = tunnel;
    if (t != null) {
      t.close();
    }
  }
}
