package dev.tether.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityOp;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * Two kits paired with each other: the primary armed a pairing code ({@code cx.pair.listen}, as {@code tether pair
 * listen} does), the companion paired with it through the kit's {@link LinkProxy} ({@code cx.pair.connect}, as
 * {@code tether pair connect} does) and dials it there from then on, over the daemons' real pinned mutual TLS.
 */
final class KitPairing implements AutoCloseable {
  /** How long a link may take to come up or go down before the kit reports it (real time: links do not use the clock). */
  private static final Duration LINK_LIMIT = Duration.ofSeconds(20);

  private final TetherTestKit primary;
  private final TetherTestKit companion;
  private final LinkProxy proxy;

  private KitPairing(TetherTestKit primary, TetherTestKit companion, LinkProxy proxy) {
    this.primary = primary;
    this.companion = companion;
    this.proxy = proxy;
  }

  /** Pairs the two kits' daemons and returns once the link between them is up on both sides. */
  static KitPairing pair(TetherTestKit primary, TetherTestKit companion) {
    ObjectNode listen = Json.object();
    listen.put("host", "127.0.0.1");
    listen.put("role", "primary");
    ObjectNode offer = primary.admin().call(ConnectivityOp.PAIR_LISTEN, listen);
    String address = offer.path("address").asText();
    int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    LinkProxy proxy;
    try {
      proxy = new LinkProxy(port);
    } catch (IOException e) {
      throw new TetherException(ErrorCode.GENERIC, "the test kit could not open its loopback link: " + e.getMessage(), e);
    }
    try {
      ObjectNode wait = Json.object();
      wait.put("code", offer.path("code").asText());
      var listened = primary.admin().request(ConnectivityOp.PAIR_WAIT, wait);
      ObjectNode connect = Json.object();
      connect.put("address", proxy.address());
      connect.put("code", offer.path("code").asText());
      companion.admin().call(ConnectivityOp.PAIR_CONNECT, connect);
      listened.get(LINK_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
      KitPairing p = new KitPairing(primary, companion, proxy);
      p.awaitLink(true);
      return p;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      proxy.close();
      throw new TetherException(ErrorCode.PAIRING_FAILED, "interrupted while pairing the kits");
    } catch (ExecutionException | TimeoutException e) {
      proxy.close();
      Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
      if (cause instanceof TetherException te) {
        throw te;
      }
      throw new TetherException(ErrorCode.PAIRING_FAILED, "the primary kit did not see the pairing finish: " + cause, cause);
    } catch (RuntimeException e) {
      proxy.close();
      throw e;
    }
  }

  TetherTestKit other(TetherTestKit kit) {
    return kit == primary ? companion : primary;
  }

  boolean isPrimary(TetherTestKit kit) {
    return kit == primary;
  }

  boolean isDropped() {
    return proxy.isDropped();
  }

  LinkProxy proxy() {
    return proxy;
  }

  void drop() {
    requireOpen();
    proxy.drop();
    awaitLink(false);
  }

  void restore() {
    requireOpen();
    proxy.restore();
    awaitLink(true);
  }

  /** Whether both daemons say the link between them is up. */
  boolean isUp() {
    return !primary.isClosed() && !companion.isClosed() && connected(primary) && connected(companion);
  }

  private void requireOpen() {
    if (primary.isClosed() || companion.isClosed()) {
      throw new TetherException(ErrorCode.INVALID_STATE, "the " + (primary.isClosed() ? "primary" : "companion")
          + " kit of this pair is closed; its daemon is gone, and with it the link");
    }
  }

  private static boolean connected(TetherTestKit kit) {
    JsonNode peers = kit.admin().call(ConnectivityOp.PEERS, Json.object()).path("peers");
    return peers.size() == 1 && peers.get(0).path("connected").asBoolean();
  }

  private static boolean disconnected(TetherTestKit kit) {
    JsonNode peers = kit.admin().call(ConnectivityOp.PEERS, Json.object()).path("peers");
    return peers.size() == 1 && !peers.get(0).path("connected").asBoolean();
  }

  /**
   * Waits (real time, polling every few milliseconds) until both daemons see the link {@code up} or down, then until
   * each connectivity service has handled that: a {@code cx.state} request runs on the service's thread after the
   * link event that it queued, so the apps' sessions have been sent the new state when this returns.
   */
  private void awaitLink(boolean up) {
    long deadline = System.nanoTime() + LINK_LIMIT.toNanos();
    while (up ? !isUp() : !(disconnected(primary) && disconnected(companion))) {
      if (System.nanoTime() - deadline > 0) {
        throw new TetherException(ErrorCode.TIMED_OUT, "the link between the paired kits did not go " + (up ? "up" : "down")
            + " within " + LINK_LIMIT.toSeconds() + " s");
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
    for (TetherTestKit kit : new TetherTestKit[] {primary, companion}) {
      kit.admin().call(ConnectivityOp.STATE, Json.object());
      kit.settleUnlessInHandler();
    }
  }

  @Override
  public void close() {
    proxy.close();
  }
}
