package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityPush;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the connectivity executor ({@code tether-connectivity}), to which store completions and activations hand
 * {@link #tell}. Transfers that failed for good ({@code DELIVERY_FAILED}: their peer was unpaired), told to their app
 * until it acknowledges them.
 */
final class DeliveryFailures {
  private static final Logger log = LoggerFactory.getLogger(DeliveryFailures.class);

  private final FailureStore failures;
  private final Sessions sessions;
  private final Executor exec;

  DeliveryFailures(FailureStore failures, Sessions sessions, Executor exec) {
    this.failures = failures;
    this.sessions = sessions;
    this.exec = exec;
  }

  /** {@code cx.failed.ack}: the failures the app's delegate has been told of. */
  record AckRequest(List<Long> failures) {
    static AckRequest parse(ObjectNode b) {
      List<Long> seqs = new ArrayList<>();
      b.path("failures").forEach(n -> seqs.add(n.asLong()));
      return new AckRequest(seqs);
    }
  }

  /**
   * Ends every transfer queued for a peer that is no longer paired: nothing can deliver it now. Each is removed from
   * the outstanding lists and its app is told it finished with {@code DELIVERY_FAILED}; its file snapshot is deleted.
   */
  void failQueuedFor(String peer) {
    String why = "the paired device " + peer.substring(0, Math.min(12, peer.length())) + " was unpaired before it received this transfer";
    failures.failQueuedFor(peer, why).whenComplete((failed, failure) -> {
      if (failure != null) {
        log.error("failing the transfers queued for unpaired peer {} failed", peer, failure);
        return;
      }
      if (failed.isEmpty()) {
        return;
      }
      log.warn("{} transfer(s) queued for peer {} failed with DELIVERY_FAILED: {}", failed.size(), peer, why);
      exec.execute(() -> {
        Set<String> apps = new HashSet<>();
        for (FailureStore.Failed d : failed) {
          if (d.file() != null) {
            Disk.deleteQuietly(Path.of(d.file()));
          }
          apps.add(d.app());
        }
        apps.forEach(this::tell);
      });
    });
  }

  /**
   * Tells the app's open sessions about its transfers that failed for good ({@code cx.finished} with the error and a
   * {@code failure} number the client acknowledges with {@code cx.failed.ack} after its delegate returned). Runs on
   * activation and when new failures are recorded; an app that is not running is told at its next activation.
   */
  void tell(String app) {
    List<ClientConnection> targets = sessions.of(app);
    if (targets.isEmpty()) {
      return;
    }
    List<ObjectNode> events = failures.unacknowledged(app);
    ClientConnection c = targets.get(targets.size() - 1);
    for (ObjectNode ev : events) {
      c.push(ConnectivityPush.FINISHED, ev);
    }
  }

  /** The app's delegate has been told of these failures: forget them. */
  CompletableFuture<ObjectNode> acknowledged(ClientConnection c, AckRequest r) {
    return failures.acknowledge(c.appId(), r.failures()).thenApply(x -> Json.object());
  }
}
