package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.wire.LinkFrame;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the IPC request's thread, which it blocks while it talks to the listener, and keeps no state of its own:
 * the connecting side of pairing ({@code tether pair connect}). Once both proofs passed it pins the listener in the
 * {@link PeerDirectory} and hands the new peer to {@code paired} (which starts dialing it).
 */
final class PairingConnector {
  private static final Logger log = LoggerFactory.getLogger(PairingConnector.class);

  private final Identity identity;
  private final PeerDirectory directory;
  private final Consumer<Peer> paired;

  PairingConnector(Identity identity, PeerDirectory directory, Consumer<Peer> paired) {
    this.identity = identity;
    this.directory = directory;
    this.paired = paired;
  }

  /** See {@link LinkManager#pair}. */
  Peer pair(String address, String code) throws IOException {
    InetSocketAddress target = LinkManager.parseAddress(address);
    SSLContext ctx = PinnedTls.context(identity, fp -> true);
    SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket();
    try {
      s.connect(target, 10_000);
      s.setSoTimeout(15_000);
      PinnedTls.configure(s);
      s.startHandshake();
      X509Certificate theirs = (X509Certificate) s.getSession().getPeerCertificates()[0];
      String listenerFp = Identity.fingerprint(theirs);
      if (directory.contains(listenerFp)) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "already paired with " + listenerFp + "; if that device"
            + " unpaired this one or was reset, run 'tether unpair " + listenerFp.substring(0, 12) + "' here first, then pair again");
      }
      FrameCodec codec = new FrameCodec();
      DataInputStream in = FrameCodec.input(s.getInputStream());
      OutputStream out = s.getOutputStream();
      String nonceC = PairingCode.nonce();
      ObjectNode hello = Json.object();
      hello.put("protocol", Protocol.VERSION);
      hello.put("nonce", nonceC);
      codec.write(out, LinkFrame.PAIR_HELLO.frame(hello));
      Frame challenge = expect(codec.read(in), LinkFrame.PAIR_CHALLENGE);
      String nonceL = challenge.text("nonce");
      String listenerRole = challenge.text("role");
      String myRole = listenerRole.equals("primary") ? "companion" : "primary";
      if (myRole.equals("companion") && !directory.isEmpty()) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the listener is a primary and this device already has peers; "
            + "a companion has exactly one primary");
      }
      if (myRole.equals("primary") && directory.localRole().equals("companion")) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the listener is a companion and so is this device");
      }
      String self = identity.fingerprint();
      ObjectNode proof = Json.object();
      proof.put("mac", HexFormat.of().formatHex(
          PairingCode.mac(code, PairingCode.CONNECTOR, listenerFp, self, nonceL, nonceC)));
      codec.write(out, LinkFrame.PAIR_PROOF.frame(proof));
      Frame answer = codec.read(in);
      if (answer == null || LinkFrame.PAIR_REFUSED.is(answer)) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device refused the pairing: "
            + (answer == null ? "it closed the connection" : answer.text("reason")));
      }
      expect(answer, LinkFrame.PAIR_ACCEPT);
      byte[] theirMac = HexFormat.of().parseHex(answer.text("mac"));
      if (!MessageDigest.isEqual(theirMac, PairingCode.mac(code, PairingCode.LISTENER, listenerFp, self, nonceL, nonceC))) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device could not prove it knows the code; "
            + "someone may be in the middle. Nothing was paired");
      }
      Peer p = directory.remember(theirs, listenerRole, target.getHostString() + ":" + target.getPort());
      codec.write(out, LinkFrame.PAIR_DONE.frame(Json.object()));
      Frame ok = codec.read(in);
      if (ok == null || !LinkFrame.PAIR_OK.is(ok)) {
        log.warn("the listener did not confirm the pairing; it will be retried as a link and refused if it did not pin us");
      }
      paired.accept(p);
      return p;
    } catch (javax.net.ssl.SSLException e) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "TLS with " + address + " failed (is a pairing code armed there?): "
          + e.getMessage(), e);
    } finally {
      s.close();
    }
  }

  private static Frame expect(Frame f, LinkFrame type) {
    if (f == null) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device closed the connection during pairing");
    }
    if (LinkFrame.PAIR_REFUSED.is(f)) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "the other device refused the pairing: " + f.text("reason"));
    }
    if (!type.is(f)) {
      throw new TetherException(ErrorCode.PAIRING_FAILED, "unexpected " + f.type() + " during pairing (wanted " + type.wire() + ")");
    }
    return f;
  }
}
