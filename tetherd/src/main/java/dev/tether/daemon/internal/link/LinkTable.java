package dev.tether.daemon.internal.link;

import dev.tether.daemon.internal.link.LinkManager.Listener;
import dev.tether.protocol.Frame;
import java.io.DataInputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any thread: the open link to each peer and the way it runs. The acceptor's and the dialers' threads attach links
 * and a link's own threads report its close, all through concurrent maps; the owner ({@link Listener}) hears of each
 * link that goes up or down, and {@link Events} (the dialer) of each attach and close.
 */
final class LinkTable {
  private static final Logger log = LoggerFactory.getLogger(LinkTable.class);

  /** What the dialer hears: a link to {@code peer} came up, or one closed. Called on the thread that saw it. */
  interface Events {
    void up(String peer);

    void closed(String peer);
  }

  private final Listener listener;
  private final ScheduledExecutorService timers;
  private final long heartbeatMillis;
  private final long deadAfterMillis;
  private final Map<String, PeerLink> links = new ConcurrentHashMap<>();
  /** How the current (or last) link to each peer runs: {@link LinkManager#DIRECT} or {@link LinkManager#RELAY}. */
  private final Map<String, String> vias = new ConcurrentHashMap<>();
  private volatile Events events;

  LinkTable(Listener listener, ScheduledExecutorService timers, long heartbeatMillis, long deadAfterMillis) {
    this.listener = listener;
    this.timers = timers;
    this.heartbeatMillis = heartbeatMillis;
    this.deadAfterMillis = deadAfterMillis;
  }

  /** Who hears of attaches and closes (set once, before any link). */
  void events(Events e) {
    this.events = e;
  }

  /** Hands a connection that passed the hello to a new link; {@code tcp} is the socket under its TLS, or null. */
  void attach(SSLSocket s, BatchingSocket tcp, DataInputStream in, String fp, String via) throws IOException {
    PeerLink link = new PeerLink(s, tcp, in, fp, new PeerLink.Handler() {
      @Override
      public void frame(PeerLink l, Frame frame, byte[] attachment) throws Exception {
        listener.frame(l, frame, attachment);
      }

      @Override
      public byte[] attachmentBuffer(PeerLink l, Frame frame, int length) throws InterruptedException {
        return listener.attachmentBuffer(l, frame, length);
      }

      @Override
      public void closed(PeerLink l) {
        if (links.remove(fp, l)) {
          listener.linkDown(l);
        }
        events.closed(fp);
      }
    }, timers, heartbeatMillis, deadAfterMillis);
    PeerLink old = links.put(fp, link);
    if (old != null) {
      old.close();
    }
    String before = vias.put(fp, via);
    if (before != null && !before.equals(via)) {
      log.info(via.equals(LinkManager.RELAY) ? "link to peer {} switched to the relay" : "link to peer {} is direct again", fp);
    }
    log.info("link to peer {} is up ({})", fp, via);
    events.up(fp);
    listener.linkUp(link);
    link.startReading();
  }

  boolean isUp(String peer) {
    PeerLink l = links.get(peer);
    return l != null && l.isOpen();
  }

  Optional<PeerLink> link(String peer) {
    PeerLink l = links.get(peer);
    return l != null && l.isOpen() ? Optional.of(l) : Optional.empty();
  }

  /** How the link to {@code peer} runs; null when it is down. */
  String via(String peer) {
    return isUp(peer) ? vias.get(peer) : null;
  }

  /** Closes the current link to {@code peer}, if any, so that its owner sees it go. */
  void closeCurrent(String peer) {
    PeerLink current = links.get(peer);
    if (current != null) {
      current.close();
    }
  }

  /** Drops the link to {@code peer} (unpaired): it closes without telling the owner. */
  void remove(String peer) {
    PeerLink l = links.remove(peer);
    if (l != null) {
      l.close();
    }
  }

  void closeAll() {
    for (PeerLink l : List.copyOf(links.values())) {
      l.close();
    }
  }
}
