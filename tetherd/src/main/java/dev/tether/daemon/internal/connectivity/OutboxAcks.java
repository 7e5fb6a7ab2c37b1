package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityPush;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the link's reader thread; it hands deletes to the store's writer and the apps' notices to the connectivity
 * executor. What the peer says of the items sent to it: stored ({@code ack}: deleted from the outbox, the app told
 * {@code cx.finished}) or refused for now ({@code items.refused}: resent later, the app told {@code cx.blocked}).
 */
final class OutboxAcks {
  private static final Logger log = LoggerFactory.getLogger(OutboxAcks.class);

  private final OutboxStore outbox;
  private final Map<String, Sender> senders;
  private final OutgoingStates fileStates;
  private final Sessions sessions;
  private final LowAnnouncer lows;
  private final Executor exec;

  /** {@code senders} is the live map of each peer's sender. */
  OutboxAcks(OutboxStore outbox, Map<String, Sender> senders, OutgoingStates fileStates, Sessions sessions,
             LowAnnouncer lows, Executor exec) {
    this.outbox = outbox;
    this.senders = senders;
    this.fileStates = fileStates;
    this.sessions = sessions;
    this.lows = lows;
    this.exec = exec;
  }

  /** The peer stored these items ({@code ack}): deleted from the outbox, their apps told they finished. */
  void acked(PeerLink link, ObjectNode body) {
    List<Long> seqs = new ArrayList<>();
    body.path("seqs").forEach(n -> seqs.add(n.asLong()));
    Sender s = senders.get(link.peer());
    outbox.acknowledged(seqs).whenComplete((done, failure) -> {
      if (s != null) {
        s.acked(seqs);
      }
      if (failure != null) {
        log.error("recording acknowledgements from {} failed", link.peer(), failure);
        return;
      }
      lows.announceLow(link);
      exec.execute(() -> {
        for (OutboxStore.Done d : done) {
          if (!d.kind().equals("file") && fileStates.blockedInfo.remove(d.app()) != null) {
            log.info("the paired device stores user info of {} again", d.app());
          }
          if (d.file() != null) {
            Disk.deleteQuietly(Path.of(d.file()));
          }
          ObjectNode ev = Json.object();
          ev.put("id", d.id());
          ev.put("kind", d.kind().equals("file") ? "file" : "userInfo");
          for (ClientConnection c : sessions.of(d.app())) {
            c.push(ConnectivityPush.FINISHED, ev);
          }
        }
      });
    });
  }

  /** The paired device refused user info for now: resend it later, in order, and tell the apps once. */
  void refused(PeerLink link, ObjectNode body) {
    List<Long> seqs = new ArrayList<>();
    body.path("seqs").forEach(n -> seqs.add(n.asLong()));
    Sender s = senders.get(link.peer());
    if (s != null && !seqs.isEmpty()) {
      s.itemsRefused(seqs);
    }
    for (JsonNode a : body.path("apps")) {
      String app = a.asText();
      ObjectNode ev = Json.object();
      ev.put("kind", "userInfo");
      ev.put("code", body.path("code").asText(ErrorCode.INSUFFICIENT_SPACE.name()));
      ev.put("error", body.path("error").asText());
      if (fileStates.blockedInfo.put(app, ev) == null) {
        log.warn("the paired device {} refused user info of {} for now, keeping it queued: {}", link.peer(), app, ev.path("error").asText());
        exec.execute(() -> {
          for (ClientConnection c : sessions.of(app)) {
            c.push(ConnectivityPush.BLOCKED, ev);
          }
        });
      }
    }
  }
}
