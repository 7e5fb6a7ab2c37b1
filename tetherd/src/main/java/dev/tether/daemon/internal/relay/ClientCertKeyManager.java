package dev.tether.daemon.internal.relay;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The key manager of one TLS connection to the relay's broker. It offers the configured {@link ClientCertificate}
 * (when there is one) whenever the broker asks for a client certificate of its key type, whichever CAs the broker
 * names: the user chose that certificate, and the broker's verdict on it says more than silently sending none. It also
 * records whether the broker asked at all and which CAs it named, so that a refused handshake can be explained.
 */
final class ClientCertKeyManager extends X509ExtendedKeyManager {
  private static final String ALIAS = "relay-client";
  private final ClientCertificate cert;
  private volatile boolean requested;
  private volatile boolean offered;
  private volatile List<String> keyTypes = List.of();
  private volatile List<String> issuers = List.of();

  /** {@code cert} may be null: then none is offered, and a request is only recorded. */
  ClientCertKeyManager(ClientCertificate cert) {
    this.cert = cert;
  }

  /** Whether the broker asked for a client certificate (TLS CertificateRequest). */
  boolean requested() {
    return requested;
  }

  /** Whether the configured certificate was sent. */
  boolean offered() {
    return offered;
  }

  /** The key types the broker asked for. */
  List<String> keyTypes() {
    return keyTypes;
  }

  /** The CAs the broker said it accepts client certificates from (may be empty: brokers need not say). */
  List<String> issuers() {
    return issuers;
  }

  @Override
  public String chooseClientAlias(String[] types, Principal[] acceptedIssuers, Socket socket) {
    requested = true;
    if (types != null) {
      List<String> all = new java.util.ArrayList<>(keyTypes);
      for (String t : types) {
        if (!all.contains(t)) {
          all.add(t);
        }
      }
      keyTypes = List.copyOf(all);
    }
    if (acceptedIssuers != null && acceptedIssuers.length > 0) {
      issuers = Arrays.stream(acceptedIssuers).map(Principal::getName).toList();
    }
    if (cert == null || (types != null && !Arrays.asList(types).contains(cert.keyType()))) {
      return null;
    }
    offered = true;
    return ALIAS;
  }

  @Override
  public String chooseEngineClientAlias(String[] types, Principal[] acceptedIssuers, SSLEngine engine) {
    return chooseClientAlias(types, acceptedIssuers, null);
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] acceptedIssuers) {
    return cert != null && cert.keyType().equals(keyType) ? new String[] {ALIAS} : null;
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    return cert != null && ALIAS.equals(alias) ? cert.chain().toArray(X509Certificate[]::new) : null;
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    return cert != null && ALIAS.equals(alias) ? cert.key() : null;
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] acceptedIssuers) {
    return null;
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] acceptedIssuers, Socket socket) {
    return null;
  }
}
