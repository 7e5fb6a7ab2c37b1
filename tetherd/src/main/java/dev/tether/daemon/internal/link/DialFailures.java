package dev.tether.daemon.internal.link;

import dev.tether.daemon.internal.link.LinkManager.DialFailure;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import java.io.IOException;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any thread (the dialers write, IPC requests read, through a concurrent map): why the last dial of each peer failed,
 * in words that say what to do, kept while its link is down. A new reason is logged once.
 */
final class DialFailures {
  private static final Logger log = LoggerFactory.getLogger(DialFailures.class);

  private final Map<String, DialFailure> failures = new ConcurrentHashMap<>();

  /** The peer accepted the TCP connection and closed it during the TLS handshake or the hello. */
  static final class HandshakeClosed extends IOException {
    HandshakeClosed(java.net.SocketException cause) {
      super("the connection was closed in the handshake: " + cause.getMessage(), cause);
    }
  }

  /** Records why dialing {@code p} failed (through the relay or not), and logs it when the reason is new. */
  void note(Peer p, Exception e, boolean viaRelay) {
    String why = (viaRelay ? "through the relay: " : "") + explain(e, p);
    DialFailure before = failures.put(p.fingerprint(), new DialFailure(why, Instant.now()));
    if (before == null || !before.message().equals(why)) {
      log.warn("cannot link to peer {}: {}", p.fingerprint(), why);
    }
  }

  /** The link to {@code peer} is up, or the peer is gone. */
  void clear(String peer) {
    failures.remove(peer);
  }

  Optional<DialFailure> get(String peer) {
    return Optional.ofNullable(failures.get(peer));
  }

  /** A dial's failure in words that say what to do. */
  static String explain(Exception e, Peer p) {
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
}
