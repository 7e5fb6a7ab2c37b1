package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityOp;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;

/**
 * Runs on the IPC connection's reader thread, and hands a pairing dial (which blocks on the network) to its own
 * {@code tether-pairing} threads. The pairing requests of the CLI and the test kit ({@code cx.pair.listen/connect/wait},
 * {@code cx.peers}, {@code cx.peers.activate}, {@code cx.unpair}), parsed into records at the IPC edge and answered by
 * the {@link LinkManager}.
 */
public final class PairingRequests implements AutoCloseable {
  private final LinkManager links;
  private final ExecutorService dials = Threads.elastic("tether-pairing");

  public PairingRequests(LinkManager links) {
    this.links = links;
  }

  /** {@code cx.pair.listen}: the port to listen on (default: the stored one), this device's role, the advertised host. */
  public record ListenRequest(Integer port, String role, String host) {
    public static ListenRequest parse(ObjectNode b) {
      return new ListenRequest(b.hasNonNull("port") ? b.get("port").asInt() : null, b.path("role").asText("primary"),
          b.hasNonNull("host") ? b.get("host").asText() : null);
    }
  }

  /** {@code cx.pair.wait}: the code armed by {@code cx.pair.listen}. */
  public record WaitRequest(String code) {
    public static WaitRequest parse(ObjectNode b) {
      return new WaitRequest(b.path("code").asText());
    }
  }

  /** {@code cx.pair.connect}: the listening daemon's address and its code. */
  public record ConnectRequest(String address, String code) {
    public static ConnectRequest parse(ObjectNode b) {
      return new ConnectRequest(b.path("address").asText(), b.path("code").asText());
    }
  }

  /** {@code cx.unpair} and {@code cx.peers.activate}: a peer's fingerprint or a prefix of it. */
  public record PeerRequest(String peer) {
    public static PeerRequest parse(ObjectNode b) {
      return new PeerRequest(b.path("peer").asText());
    }
  }

  /** No fields ({@code cx.peers}). */
  public record NoRequest() {
    public static NoRequest parse(ObjectNode b) {
      return new NoRequest();
    }
  }

  public void register(IpcServer ipc) {
    ipc.register(ConnectivityOp.PAIR_LISTEN, ListenRequest::parse, this::listen);
    ipc.register(ConnectivityOp.PAIR_WAIT, WaitRequest::parse, (c, r) -> links.awaitPairing(r.code()).thenApply(Peer::toJson));
    ipc.register(ConnectivityOp.PAIR_CONNECT, ConnectRequest::parse, this::connect);
    ipc.register(ConnectivityOp.PEERS, NoRequest::parse, (c, r) -> CompletableFuture.completedFuture(peers()));
    ipc.register(ConnectivityOp.UNPAIR, PeerRequest::parse,
        (c, r) -> CompletableFuture.completedFuture(links.unpair(r.peer()).toJson()));
    ipc.register(ConnectivityOp.PEERS_ACTIVATE, PeerRequest::parse,
        (c, r) -> CompletableFuture.completedFuture(links.activate(r.peer()).toJson()));
  }

  private CompletableFuture<ObjectNode> listen(ClientConnection c, ListenRequest req) throws IOException {
    LinkManager.PairingOffer o = links.listen(req.port(), req.role(), req.host());
    ObjectNode r = Json.object();
    r.put("address", o.address());
    r.put("code", o.code());
    r.put("role", o.role());
    r.put("expires", o.expires().toString());
    r.put("fingerprint", links.identity().fingerprint());
    return CompletableFuture.completedFuture(r);
  }

  private CompletableFuture<ObjectNode> connect(ClientConnection c, ConnectRequest req) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return links.pair(req.address(), req.code()).toJson();
      } catch (IOException e) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "cannot reach " + req.address() + ": " + e.getMessage(), e);
      }
    }, dials);
  }

  private ObjectNode peers() {
    ObjectNode r = Json.object();
    r.put("fingerprint", links.identity().fingerprint());
    r.put("port", links.port());
    r.put("role", links.localRole());
    ArrayNode a = r.putArray("peers");
    for (Peer p : links.peers()) {
      ObjectNode o = p.toJson();
      o.put("connected", links.isUp(p.fingerprint()));
      String via = links.via(p.fingerprint());
      if (via != null) {
        o.put("via", via);
      }
      links.dialFailure(p.fingerprint()).ifPresent(f -> {
        o.put("lastError", f.message());
        o.put("lastErrorAt", f.at().toString());
      });
      a.add(o);
    }
    return r;
  }

  @Override
  public void close() {
    dials.shutdownNow();
  }
}
