package dev.tether.daemon.internal.link;

import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.relay.ClientCertificate;
import dev.tether.daemon.internal.relay.RelayBroker;
import dev.tether.daemon.internal.store.StatementCache;
import dev.tether.daemon.internal.store.Store;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs on its caller's thread: reads on a pooled store connection, writes through the store's writer, each returning
 * after its COMMIT. Holds all SQL of the link: the pinned peers ({@code cx_peers}), the relay broker setting
 * ({@code cx_relay}) and the link's rows of {@code cx_settings} (the peer port). The tables are created by the
 * connectivity service's migrations.
 */
final class LinkStore {
  private static final String PEERS = "SELECT fingerprint, cert, peer_role, address, active, paired_at FROM cx_peers";
  private static final String DEACTIVATE_ALL = "UPDATE cx_peers SET active = 0";
  private static final String UPSERT_PEER = "INSERT INTO cx_peers(fingerprint, cert, peer_role, address, active, "
      + "paired_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE SET cert = excluded.cert, "
      + "peer_role = excluded.peer_role, address = excluded.address, active = excluded.active";
  private static final String ACTIVATE_ONLY = "UPDATE cx_peers SET active = (fingerprint = ?)";
  private static final String DELETE_PEER = "DELETE FROM cx_peers WHERE fingerprint = ?";
  private static final String SETTING = "SELECT value FROM cx_settings WHERE key = ?";
  private static final String SAVE_SETTING = "INSERT INTO cx_settings(key, value) VALUES (?, ?) "
      + "ON CONFLICT(key) DO UPDATE SET value = excluded.value";
  private static final String RELAY = "SELECT broker, username, password, ca_pem, client_cert_pem, client_key_pem "
      + "FROM cx_relay WHERE id = 1";
  private static final String DELETE_RELAY = "DELETE FROM cx_relay";
  private static final String SAVE_RELAY = "INSERT INTO cx_relay(id, broker, username, password, ca_pem, "
      + "client_cert_pem, client_key_pem) VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
      + "broker = excluded.broker, username = excluded.username, password = excluded.password, "
      + "ca_pem = excluded.ca_pem, client_cert_pem = excluded.client_cert_pem, "
      + "client_key_pem = excluded.client_key_pem";

  /** The stored relay setting, as text (checked again by {@link RelayBroker#parse} when it is loaded). */
  record StoredRelay(String broker, String username, String password, String caPem, String clientCertPem,
      String clientKeyPem) {}

  private final Store store;
  private final StatementCache statements = new StatementCache();

  LinkStore(Store store) {
    this.store = store;
  }

  /** Every pinned peer. */
  List<Peer> peers() {
    return store.read(c -> {
      List<Peer> list = new ArrayList<>();
      try (ResultSet rs = statements.get(c, PEERS).executeQuery()) {
        while (rs.next()) {
          list.add(new Peer(rs.getString(1), rs.getBytes(2), rs.getString(3), rs.getString(4), rs.getInt(5) != 0,
              java.time.Instant.ofEpochMilli(rs.getLong(6))));
        }
      }
      return list;
    });
  }

  /** Pins {@code p} (or updates its pin); when it is active, every other peer becomes inactive in the same commit. */
  void savePeer(Peer p) {
    store.writeAndWait(c -> {
      if (p.active()) {
        statements.get(c, DEACTIVATE_ALL).executeUpdate();
      }
      PreparedStatement s = statements.get(c, UPSERT_PEER);
      s.setString(1, p.fingerprint());
      s.setBytes(2, p.certificate());
      s.setString(3, p.role());
      s.setString(4, p.address());
      s.setInt(5, p.active() ? 1 : 0);
      s.setLong(6, p.pairedAt().toEpochMilli());
      s.executeUpdate();
      return null;
    });
  }

  /** Makes {@code fingerprint} the only active peer. */
  void activateOnly(String fingerprint) {
    store.writeAndWait(c -> {
      PreparedStatement s = statements.get(c, ACTIVATE_ONLY);
      s.setString(1, fingerprint);
      s.executeUpdate();
      return null;
    });
  }

  /** Forgets the pin of {@code fingerprint}. */
  void deletePeer(String fingerprint) {
    store.writeAndWait(c -> {
      PreparedStatement s = statements.get(c, DELETE_PEER);
      s.setString(1, fingerprint);
      s.executeUpdate();
      return null;
    });
  }

  /** The stored peer port, or null when none was stored yet. */
  Integer peerPort() {
    String v = setting("peer_port");
    return v == null ? null : Integer.parseInt(v);
  }

  void savePeerPort(int port) {
    saveSetting("peer_port", Integer.toString(port));
  }

  private String setting(String key) {
    return store.read(c -> {
      PreparedStatement s = statements.get(c, SETTING);
      s.setString(1, key);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    });
  }

  private void saveSetting(String key, String value) {
    store.writeAndWait(c -> {
      PreparedStatement s = statements.get(c, SAVE_SETTING);
      s.setString(1, key);
      s.setString(2, value);
      s.executeUpdate();
      return null;
    });
  }

  /** The stored relay setting, or null when none is set. */
  StoredRelay relay() {
    return store.read(c -> {
      try (ResultSet rs = statements.get(c, RELAY).executeQuery()) {
        return rs.next() ? new StoredRelay(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
            rs.getString(5), rs.getString(6)) : null;
      }
    });
  }

  /** Stores {@code broker} with its credentials, or with null clears the setting. */
  void saveRelay(RelayBroker broker) {
    store.writeAndWait(c -> {
      if (broker == null) {
        statements.get(c, DELETE_RELAY).executeUpdate();
        return null;
      }
      ClientCertificate cert = broker.clientCert();
      PreparedStatement s = statements.get(c, SAVE_RELAY);
      s.setString(1, broker.uri());
      s.setString(2, broker.username());
      s.setString(3, broker.password());
      s.setString(4, broker.caPem());
      s.setString(5, cert == null ? null : cert.chainPem());
      s.setString(6, cert == null ? null : cert.keyPem());
      s.executeUpdate();
      return null;
    });
  }
}
