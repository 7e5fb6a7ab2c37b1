package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.link.LinkManager.PairingOffer;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.LinkFrame;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs where its work comes from, the listening side of pairing: arming a code on the IPC request's thread
 * ({@code tether pair listen}), a pairing attempt on the acceptor's thread for that connection
 * ({@code tether-link-serve}), the code's expiry on the link timer ({@code tether-link-timers}). The armed code is a
 * volatile field, and its tries are counted under the code's own lock.
 *
 * <p>The connector proves it knows the code with {@link PairingCode#mac} labelled "connector"; this side checks it in
 * constant time, answers with its own proof labelled "listener", and pins the connector's certificate once the
 * connector is done. A wrong proof is refused; the {@value #MAX_TRIES}rd burns the code.
 */
final class PairingListener {
  private static final Logger log = LoggerFactory.getLogger(PairingListener.class);
  static final int MAX_TRIES = 3;
  private static final Duration CODE_LIFETIME = Duration.ofMinutes(10);

  /** The peer port, which arming a code may move. */
  interface PeerPort {
    void bind(int port) throws IOException;

    int port();
  }

  private static final class Offer {
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

    boolean open() {
      return !used && !done.isDone() && Instant.now().isBefore(expires);
    }
  }

  private final Identity identity;
  private final PeerDirectory directory;
  private final PeerPort peerPort;
  private final ScheduledExecutorService timers;
  private volatile Offer offer;

  PairingListener(Identity identity, PeerDirectory directory, PeerPort peerPort, ScheduledExecutorService timers) {
    this.identity = identity;
    this.directory = directory;
    this.peerPort = peerPort;
    this.timers = timers;
  }

  /** Whether a code is armed and still good: only then may an unpaired certificate pass the TLS handshake. */
  boolean isArmed() {
    Offer o = offer;
    return o != null && o.open();
  }

  /** See {@link LinkManager#listen}. */
  synchronized PairingOffer listen(Integer port, String role, String advertisedHost) {
    if (!role.equals("primary") && !role.equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "role must be primary or companion, not " + role);
    }
    if (role.equals("companion") && directory.localRole().equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "this device is already the companion of "
          + directory.counterpart().map(Peer::fingerprint).orElse("?") + "; unpair it first");
    }
    if (role.equals("companion") && !directory.isEmpty()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "this device is the primary of " + directory.size()
          + " companion(s); a device is either a primary or a companion");
    }
    if (role.equals("primary") && directory.localRole().equals("companion")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "this device is a companion; a device is either a primary or a companion");
    }
    if (port != null) {
      if (port < 0 || port > 65535) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the peer port is 1 to 65535 (or 0 for any free port), not " + port);
      }
      try {
        peerPort.bind(port);
      } catch (IOException e) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "cannot listen for the other device on port " + port + " ("
            + e.getMessage() + "); choose another port, or leave out the port to keep the current one", e);
      }
    }
    Offer old = offer;
    if (old != null) {
      old.done.completeExceptionally(new TetherException(ErrorCode.PAIRING_FAILED, "a newer pairing code replaced this one"));
    }
    String code = PairingCode.generate();
    Offer o = new Offer(code, role, Instant.now().plus(CODE_LIFETIME));
    offer = o;
    timers.schedule(() -> o.done.completeExceptionally(new TetherException(ErrorCode.PAIRING_FAILED,
        "the pairing code expired after " + CODE_LIFETIME.toMinutes() + " minutes")), CODE_LIFETIME.toMillis(), TimeUnit.MILLISECONDS);
    String host = advertisedHost != null ? advertisedHost : defaultHost();
    return new PairingOffer(host + ":" + peerPort.port(), PairingCode.format(code), role, o.expires);
  }

  /** See {@link LinkManager#awaitPairing}. */
  CompletableFuture<Peer> awaitPairing(String code) {
    Offer o = offer;
    if (o == null || !o.code.equals(PairingCode.normalize(code))) {
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

  /**
   * Runs a pairing on a connection from an unpaired certificate, {@code theirs}, whose first frame was {@code hello}.
   */
  void serve(SSLSocket s, X509Certificate theirs, DataInputStream in, Frame hello) throws IOException {
    Offer o = offer;
    FrameCodec codec = new FrameCodec();
    OutputStream out = s.getOutputStream();
    if (o == null || !o.open()) {
      refuse(codec, out, "no pairing code is armed on this device");
      return;
    }
    if (!LinkFrame.PAIR_HELLO.is(hello)) {
      refuse(codec, out, "expected pair.hello");
      return;
    }
    String connectorFp = Identity.fingerprint(theirs);
    String nonceC = hello.text("nonce");
    String nonceL = PairingCode.nonce();
    ObjectNode challenge = Json.object();
    challenge.put("nonce", nonceL);
    challenge.put("role", o.localRole);
    codec.write(out, LinkFrame.PAIR_CHALLENGE.frame(challenge));
    Frame proof = codec.read(in);
    if (proof == null || !LinkFrame.PAIR_PROOF.is(proof)) {
      return;
    }
    byte[] expected = PairingCode.mac(o.code, PairingCode.CONNECTOR, identity.fingerprint(), connectorFp, nonceL, nonceC);
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
    accept.put("mac", HexFormat.of().formatHex(
        PairingCode.mac(o.code, PairingCode.LISTENER, identity.fingerprint(), connectorFp, nonceL, nonceC)));
    codec.write(out, LinkFrame.PAIR_ACCEPT.frame(accept));
    Frame done = codec.read(in);
    if (done == null || !LinkFrame.PAIR_DONE.is(done)) {
      o.done.completeExceptionally(new TetherException(ErrorCode.PAIRING_FAILED, "the other device gave up before finishing"));
      return;
    }
    String peerRole = o.localRole.equals("primary") ? "companion" : "primary";
    Peer p = directory.remember(theirs, peerRole, null);
    codec.write(out, LinkFrame.PAIR_OK.frame(Json.object()));
    o.done.complete(p);
  }

  private static void refuse(FrameCodec codec, OutputStream out, String reason) throws IOException {
    ObjectNode b = Json.object();
    b.put("reason", reason);
    codec.write(out, LinkFrame.PAIR_REFUSED.frame(b));
  }
}
