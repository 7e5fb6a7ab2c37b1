package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.link.LinkManager;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityFrame;
import dev.tether.protocol.wire.ConnectivityPush;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * Runs on the connectivity executor ({@code tether-connectivity}); IPC readers, link readers and listeners hand it
 * work with {@code execute}. The sessions lane: activation ({@code cx.activate}), the session state ({@code cx.state}
 * and its pushes), closed sessions, and what this device tells its peer of its apps ({@code apps}).
 */
final class Activations {
  private final Executor exec;
  private final Sessions sessions;
  private final AppStore apps;
  private final AppDeliveries deliveries;
  private final LiveMessages messages;
  private final DeliveryFailures failures;
  private final ApplicationContexts contexts;
  private final UserInfoLane userInfo;
  private final LinkManager links;
  private final CounterpartApps counterpart;
  private final Consumer<String> drained;

  /** {@code drained} runs on exec when an activated app has nothing waiting. */
  Activations(Executor exec, Sessions sessions, AppStore apps, AppDeliveries deliveries, LiveMessages messages,
              DeliveryFailures failures, ApplicationContexts contexts, UserInfoLane userInfo, LinkManager links,
              CounterpartApps counterpart, Consumer<String> drained) {
    this.exec = exec;
    this.sessions = sessions;
    this.apps = apps;
    this.deliveries = deliveries;
    this.messages = messages;
    this.failures = failures;
    this.contexts = contexts;
    this.userInfo = userInfo;
    this.links = links;
    this.counterpart = counterpart;
    this.drained = drained;
  }

  /** No fields ({@code cx.state}). */
  record NoRequest() {
    static NoRequest parse(ObjectNode b) {
      return new NoRequest();
    }
  }

  /** {@code cx.activate}: whether the app shows a complication. */
  record ActivateRequest(boolean complicationEnabled) {
    static ActivateRequest parse(ObjectNode b) {
      return new ActivateRequest(b.path("complicationEnabled").asBoolean(false));
    }
  }

  /** {@code cx.activate}: {@code c} is the app's newest session; answers its state and contexts. On exec. */
  ObjectNode activate(ClientConnection c, ActivateRequest req) {
    String app = c.appId();
    sessions.activate(app, c);
    boolean complication = req.complicationEnabled();
    apps.activated(app, complication);
    deliveries.activated(app, c);
    announceApps();
    messages.activated(app);
    // after the activation answer is on its way, so deliveries reach an activated session
    exec.execute(() -> deliveries.pump(app));
    exec.execute(() -> failures.tell(app));
    ObjectNode s = state(app);
    if (s.path("pending").asInt() == 0) {
      drained.accept(app);
    }
    s.set("applicationContext", contexts.sent(app));
    s.set("receivedApplicationContext", contexts.received(app));
    return s;
  }

  /** An app's connection closed; on exec. */
  void sessionClosed(ClientConnection c) {
    if (!sessions.closed(c)) {
      return;
    }
    deliveries.closed(c, current(c.appId()));
    announceApps();
  }

  private ClientConnection current(String app) {
    return sessions.current(app);
  }

  private boolean reachable(String app) {
    Optional<Peer> cp = links.counterpart();
    return cp.isPresent() && links.isUp(cp.get().fingerprint()) && counterpart.running(app);
  }

  private int pendingCount(String app) {
    return apps.pending(app);
  }

  /** The session state of the app ({@code cx.state}); on exec. */
  ObjectNode state(String app) {
    ObjectNode s = Json.object();
    Optional<Peer> cp = links.counterpart();
    s.put("state", "ACTIVATED");
    s.put("paired", cp.isPresent());
    s.put("role", links.localRole());
    cp.ifPresent(p -> s.put("peer", p.fingerprint()));
    s.put("counterpartAppInstalled", counterpart.installed(app));
    s.put("complicationEnabled", counterpart.showsComplication(app));
    s.put("reachable", reachable(app));
    s.put("remainingComplicationUserInfoTransfers", userInfo.remainingComplications(app));
    s.put("pending", pendingCount(app));
    return s;
  }

  /** Tells every activated session its current state (reachability and pairing changes). */
  void broadcastState() {
    exec.execute(() -> {
      for (Map.Entry<String, List<ClientConnection>> e : sessions.all().entrySet()) {
        List<ClientConnection> list = e.getValue();
        if (list.isEmpty()) {
          continue;
        }
        ObjectNode s = state(e.getKey());
        for (ClientConnection c : list) {
          c.push(ConnectivityPush.STATE, s);
        }
      }
    });
  }

  private void announceApps() {
    links.counterpart().flatMap(p -> links.link(p.fingerprint())).ifPresent(this::sendApps);
  }

  /** Tells the peer which apps are installed, running and showing a complication here. */
  void sendApps(PeerLink l) {
    ObjectNode a = Json.object();
    ArrayNode running = a.putArray("running");
    sessions.all().forEach((app, list) -> {
      if (list.stream().anyMatch(ClientConnection::isOpen)) {
        running.add(app);
      }
    });
    ArrayNode installed = a.putArray("installed");
    ArrayNode complications = a.putArray("complications");
    apps.forEach((app, complication) -> {
      installed.add(app);
      if (complication) {
        complications.add(app);
      }
    });
    l.send(ConnectivityFrame.APPS, a);
  }

  /** The active peer changed (primary side): every session ends, and the new peer hears of this device's apps. On exec. */
  void peerChanged(String oldPeer, String newPeer) {
    counterpart.forget();
    if (oldPeer != null) {
      ObjectNode inactive = Json.object();
      inactive.put("state", "INACTIVE");
      ObjectNode deactivated = Json.object();
      deactivated.put("state", "NOT_ACTIVATED");
      deactivated.put("deactivated", true);
      for (Map.Entry<String, List<ClientConnection>> e : sessions.all().entrySet()) {
        for (ClientConnection c : e.getValue()) {
          c.push(ConnectivityPush.STATE, inactive);
          c.push(ConnectivityPush.STATE, deactivated);
        }
        deliveries.detach(e.getKey());
      }
      sessions.clear();
    }
    links.link(newPeer).ifPresent(this::sendApps);
  }

  /** The peer's {@code apps} frame; on the link's reader. Only the active counterpart's counts. */
  void appsTold(PeerLink link, ObjectNode body) {
    if (links.counterpart().map(p -> p.fingerprint().equals(link.peer())).orElse(false)) {
      counterpart.told(body);
      broadcastState();
    }
  }
}
