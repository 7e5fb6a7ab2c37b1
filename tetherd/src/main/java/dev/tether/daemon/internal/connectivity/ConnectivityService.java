package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.link.Identity;
import dev.tether.daemon.internal.link.LinkManager;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.link.PairingRequests;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.daemon.internal.link.RelayRequests;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Frame;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import dev.tether.protocol.TetherPaths;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import dev.tether.protocol.wire.ConnectivityOp;
import dev.tether.protocol.wire.ConnectivityPush;
import dev.tether.protocol.wire.ConnectivityFrame;

/**
 * Paired-device connectivity ({@code WCSession}): pairing and links (through {@link LinkManager}), and per app the
 * queues that carry user info, complication user info, application context and files to the counterpart, plus live
 * messages.
 *
 * <p><b>Durability.</b> A transfer is committed to {@code cx_outbox} before the app's call returns. The sender sends
 * the outbox in sequence order (complication user info first) and deletes a row only when the receiving daemon
 * acknowledged it, which that daemon does only after committing it to {@code cx_inbox} together with its id in
 * {@code cx_seen} (a UNIQUE id: a resent duplicate is dropped). {@code cx_seen} is kept only as long as the sender may
 * still send an item again: the sender tells the receiver now and then the lowest sequence number left in its outbox
 * for it ({@code low}), and the receiver forgets the ids below the one it was told the time before. The receiving app gets its inbox
 * rows in order, one session at a time, and each row is deleted only when the app acknowledged it after its delegate
 * returned. Rows are gathered into group commits ({@link GroupWriter}): one fsync carries hundreds of rows.
 *
 * <p><b>Threads.</b> Runs on the connectivity executor ({@code tether-connectivity}, {@code exec}); IPC reader
 * threads, link readers ({@link PeerFrames}) and the per-link sender threads hand it work with {@code execute}. It
 * alone changes the activated sessions ({@link Sessions}, read elsewhere only through their published snapshot),
 * the per-app delivery state ({@code deliveries}) and the held live messages' delivery. Each link's {@code Sender}
 * owns its cursors and in-flight sets (under its lock) on its {@code tether-cx-send-*} and {@code tether-cx-files-*}
 * threads; each peer's {@code FileReceiver} is driven by that link's reader. Store writes go through the
 * {@link GroupWriter}s; their completions hop back to {@code exec} before touching state it owns.
 */
public final class ConnectivityService implements DaemonService, LinkManager.Listener {
  private static final Logger log = LoggerFactory.getLogger(ConnectivityService.class);

  private DaemonContext context;
  private Store store;
  private LinkManager links;
  private PairingRequests pairingRequests;
  private RelayRequests relayRequests;
  private Path outDir;
  private Path inDir;
  private final ExecutorService exec = Threads.serial("tether-connectivity");

  /** Activated sessions per app: changed only on exec, read anywhere through its published snapshot. */
  private final Sessions sessions = new Sessions();
  /** What the counterpart said about its apps. */
  private final CounterpartApps counterpart = new CounterpartApps();
  private LiveMessages messages;
  private AppDeliveries deliveries;
  private FailureStore failureStore;
  private DeliveryFailures failures;
  private ApplicationContexts contexts;
  private final Map<String, Sender> senders = new ConcurrentHashMap<>();
  private final Map<String, FileReceiver> fileReceivers = new ConcurrentHashMap<>();
  private final OutgoingStates fileStates = new OutgoingStates();

  private final PeerFrames peerFrames = peerFrames();
  private OutboxStore outbox;
  private AppStore apps;
  private FileCaptures captures;
  private UserInfoLane userInfo;
  private Outstanding outstanding;
  private LowAnnouncer lows;
  private GroupWriter<OutboxStore.Outgoing, Long> outboxWriter;
  private Inbox inbox;

  @Override
  public List<Migration> migrations() {
    return List.of(new Migration("connectivity-001", """
        CREATE TABLE cx_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE cx_peers (fingerprint TEXT PRIMARY KEY, cert BLOB NOT NULL, peer_role TEXT NOT NULL, address TEXT,
          active INTEGER NOT NULL DEFAULT 0, paired_at INTEGER NOT NULL);
        CREATE TABLE cx_apps (app TEXT PRIMARY KEY, complication INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE cx_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, peer TEXT NOT NULL,
          app TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT, file TEXT, size INTEGER, sha256 TEXT, created_at INTEGER NOT NULL);
        CREATE INDEX cx_outbox_peer ON cx_outbox(peer, seq);
        CREATE INDEX cx_outbox_app ON cx_outbox(app, seq);
        CREATE TABLE cx_context_out (app TEXT NOT NULL, peer TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
          payload TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (app, peer));
        CREATE TABLE cx_context_in (app TEXT PRIMARY KEY, id TEXT NOT NULL, version INTEGER NOT NULL, payload TEXT NOT NULL);
        CREATE TABLE cx_seen (id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE cx_inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, peer TEXT NOT NULL, app TEXT NOT NULL,
          kind TEXT NOT NULL, payload TEXT, file TEXT, received_at INTEGER NOT NULL);
        CREATE INDEX cx_inbox_app ON cx_inbox(app, seq);
        CREATE TABLE cx_complications (app TEXT NOT NULL, at INTEGER NOT NULL);
        CREATE INDEX cx_complications_app ON cx_complications(app, at)
        """),
        // every transfer paid for this index twice (insert and delete); the per-app listings scan the outbox instead
        new Migration("connectivity-002", "DROP INDEX cx_outbox_app"),
        // transfers that failed for good (DELIVERY_FAILED), kept until the sending app has been told
        new Migration("connectivity-003", """
            CREATE TABLE cx_failed (seq INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, id TEXT NOT NULL,
              kind TEXT NOT NULL, code TEXT NOT NULL, error TEXT NOT NULL, failed_at INTEGER NOT NULL);
            CREATE INDEX cx_failed_app ON cx_failed(app, seq);
            """),
        // the MQTT broker links relay through when the peer cannot be reached directly (LinkManager.setRelay)
        new Migration("connectivity-004", "CREATE TABLE cx_relay (id INTEGER PRIMARY KEY CHECK (id = 1), broker TEXT NOT NULL)"),
        // the relay broker's MQTT credentials and the PEM text of the CA bundle its TLS certificate is checked against
        // (the database is in the 0700 home, like the link's private key)
        new Migration("connectivity-005", """
            ALTER TABLE cx_relay ADD COLUMN username TEXT;
            ALTER TABLE cx_relay ADD COLUMN password TEXT;
            ALTER TABLE cx_relay ADD COLUMN ca_pem TEXT;
            """),
        // which peer sent each seen id, under which of its sequence numbers: what lets cx_seen be pruned (ids seen
        // before this migration keep NULLs and stay)
        new Migration("connectivity-006", """
            ALTER TABLE cx_seen ADD COLUMN peer TEXT;
            ALTER TABLE cx_seen ADD COLUMN peer_seq INTEGER
            """),
        // the X.509 client certificate (PEM chain) and its private key (unencrypted PKCS#8 PEM) the relay logs in to its
        // broker with over TLS, kept like the relay's password (the database is in the 0700 home)
        new Migration("connectivity-007", """
            ALTER TABLE cx_relay ADD COLUMN client_cert_pem TEXT;
            ALTER TABLE cx_relay ADD COLUMN client_key_pem TEXT;
            """));
  }

  @Override
  public void start(DaemonContext ctx) throws Exception {
    this.context = ctx;
    this.store = ctx.store();
    Path base = TetherPaths.dataDir(ctx.home()).resolve("connectivity");
    outDir = base.resolve("out");
    inDir = base.resolve("in");
    Files.createDirectories(outDir);
    Files.createDirectories(inDir);
    outbox = new OutboxStore(store);
    apps = new AppStore(store);
    outboxWriter = new GroupWriter<>(store, (conn, items) -> outbox.insert(conn, items, context.clock().now().toEpochMilli()));
    new AbandonedParts(inDir, ctx.clock(), exec).start();
    captures = new FileCaptures(outDir, outbox, outboxWriter, fileStates, this::requireCounterpart, peer -> {
      Sender sender = senders.get(peer);
      if (sender != null) {
        sender.wakeFiles();
      }
    });
    captures.cleanStale();
    inbox = new Inbox(store, exec, this::arrived);
    deliveries = new AppDeliveries(store, exec, this::drained);
    failureStore = new FailureStore(store);
    failures = new DeliveryFailures(failureStore, sessions, exec);
    contexts = new ApplicationContexts(new ContextStore(store), exec, this::requireCounterpart, this::wakeSender, app -> {
      deliveries.contextReplaced(app);
      arrived(app);
    });
    long heartbeat = Long.getLong("tether.link.heartbeatMillis", envLong("TETHER_LINK_HEARTBEAT_MS", 1000));
    links = new LinkManager(store, Identity.loadOrCreate(ctx.home().resolve("link")), this, heartbeat, heartbeat * 5);
    messages = new LiveMessages(ctx, links, counterpart, sessions, this::wake);
    outstanding = new Outstanding(outbox, fileStates, links);
    lows = new LowAnnouncer(outbox, exec, ctx.clock());
    userInfo = new UserInfoLane(outbox, outboxWriter, links, counterpart, ctx.clock(), this::requireCounterpart, this::wakeSender);
    links.start();
    // failures an app has not come back for in 30 days are dropped (it is gone, or it has its outstanding lists)
    failureStore.dropOlderThan(System.currentTimeMillis() - java.time.Duration.ofDays(30).toMillis());
    // a peer unpaired just before a crash may have left transfers queued for it
    Set<String> paired = new HashSet<>();
    links.peers().forEach(p -> paired.add(p.fingerprint()));
    for (String peer : failureStore.peersWithQueuedTransfers()) {
      if (!paired.contains(peer)) {
        failures.failQueuedFor(peer);
      }
    }
    register(ctx);
    ctx.ipc().addListener(new ConnectionListener() {
      @Override
      public void closed(ClientConnection c) {
        try {
          exec.execute(() -> sessionClosed(c));
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // the daemon is stopping: its connections close after this service did, and there is nothing to tidy
        }
      }
    });
  }

  private static long envLong(String name, long def) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? def : Long.parseLong(v.trim());
  }

  @Override
  public void close() {
    if (pairingRequests != null) {
      pairingRequests.close();
      relayRequests.close();
    }
    if (links != null) {
      links.close();
    }
    exec.shutdownNow();
  }

  // ============================================================================================ IPC

  private void register(DaemonContext ctx) {
    var ipc = ctx.ipc();
    pairingRequests = new PairingRequests(links);
    pairingRequests.register(ipc);
    relayRequests = new RelayRequests(links, TetherPaths.database(ctx.home()));
    relayRequests.register(ipc);
    ipc.register(ConnectivityOp.ACTIVATE, (c, b) -> onExec(() -> activate(c, b)));
    ipc.register(ConnectivityOp.STATE, (c, b) -> onExec(() -> state(c.appId())));
    ipc.register(ConnectivityOp.USER_INFO, UserInfoLane.Request::parse, userInfo::transfer);
    ipc.register(ConnectivityOp.USER_INFO_BATCH, UserInfoLane.BatchRequest::parse, userInfo::transferBatch);
    ipc.register(ConnectivityOp.CONTEXT, ApplicationContexts.UpdateRequest::parse, contexts::update);
    ipc.register(ConnectivityOp.FILE, FileCaptures.FileRequest::parse, captures::transferFile);
    ipc.register(ConnectivityOp.OUTSTANDING, Outstanding.PageRequest::parse, outstanding::page);
    ipc.register(ConnectivityOp.CANCEL, Outstanding.CancelRequest::parse, outstanding::cancel);
    ipc.register(ConnectivityOp.ACK, (c, b) -> deliveries.ack(c, b));
    ipc.register(ConnectivityOp.FAILED_ACK, DeliveryFailures.AckRequest::parse, failures::acknowledged);
    ipc.register(ConnectivityOp.MESSAGE, (c, b) -> messages.send(c, b));
    ipc.register(ConnectivityOp.REPLY, (c, b) -> messages.reply(c, b));
  }

  private <T> CompletableFuture<T> onExec(java.util.concurrent.Callable<T> work) {
    CompletableFuture<T> f = new CompletableFuture<>();
    exec.execute(() -> {
      try {
        f.complete(work.call());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    return f;
  }

  private String requireCounterpart() {
    return links.counterpart().map(Peer::fingerprint).orElseThrow(() -> new TetherException(ErrorCode.DEVICE_NOT_PAIRED,
        "this device is not paired; pair it with 'tether pair listen' and 'tether pair connect'"));
  }

  // ---------------------------------------------------------------------------------------------- sessions

  private ObjectNode activate(ClientConnection c, ObjectNode b) throws SQLException {
    String app = c.appId();
    sessions.activate(app, c);
    boolean complication = b.path("complicationEnabled").asBoolean(false);
    apps.activated(app, complication);
    deliveries.activated(app, c);
    announceApps();
    messages.activated(app);
    // after the activation answer is on its way, so deliveries reach an activated session
    exec.execute(() -> deliveries.pump(app));
    exec.execute(() -> failures.tell(app));
    ObjectNode s = state(app);
    if (s.path("pending").asInt() == 0) {
      drained(app);
    }
    s.set("applicationContext", contexts.sent(app));
    s.set("receivedApplicationContext", contexts.received(app));
    return s;
  }

  private void sessionClosed(ClientConnection c) {
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

  private ObjectNode state(String app) {
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
  private void broadcastState() {
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

  private void sendApps(PeerLink l) {
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

  // ---------------------------------------------------------------------------------------------- sending

  // ---------------------------------------------------------------------------------------------- peer links

  @Override
  public void linkUp(PeerLink link) {
    inbox.linkUp(link);
    sendApps(link);
    Sender s = new Sender(link, store, sessions, fileStates);
    Sender old = senders.put(link.peer(), s);
    if (old != null) {
      old.stop();
    }
    s.start();
    lows.announceLow(link);
    broadcastState();
  }

  @Override
  public void linkDown(PeerLink link) {
    Sender s = senders.get(link.peer());
    if (s != null && s.link == link) {
      senders.remove(link.peer(), s);
      s.stop();
    }
    if (links.counterpart().map(p -> p.fingerprint().equals(link.peer())).orElse(false)) {
      counterpart.notRunning();
    }
    messages.linkDown(link);
    broadcastState();
  }

  @Override
  public void activePeerChanged(String oldPeer, String newPeer) {
    exec.execute(() -> {
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
    });
    broadcastState();
  }

  @Override
  public void unpaired(String peer) {
    failures.failQueuedFor(peer);
    broadcastState();
  }

  @Override
  public byte[] attachmentBuffer(PeerLink link, Frame f, int length) throws InterruptedException {
    return f.type().equals(ConnectivityFrame.FILE_CHUNK.wire()) ? fileReceiver(link).buffer(f.body(), length) : new byte[length];
  }

  @Override
  public void frame(PeerLink link, Frame f, byte[] attachment) throws Exception {
    peerFrames.dispatch(link, f, attachment);
  }

  /** The handler of each peer frame type: which lane takes it. */
  private PeerFrames peerFrames() {
    return new PeerFrames()
        .on(ConnectivityFrame.ITEMS, (link, f, a) -> {
          for (JsonNode item : f.body().path("items")) {
            inbox.receiveItem(link, (ObjectNode) item);
          }
        })
        .on(ConnectivityFrame.ITEM, (link, f, a) -> inbox.receiveItem(link, f.body()))
        .on(ConnectivityFrame.ACK, (link, f, a) -> peerAcked(link, f.body()))
        .on(ConnectivityFrame.LOW, (link, f, a) -> inbox.receiveLow(link, f.body().path("low").asLong()))
        .on(ConnectivityFrame.ITEMS_REFUSED, (link, f, a) -> itemsRefusedByPeer(link, f.body()))
        .on(ConnectivityFrame.ITEMS_RETRY, (link, f, a) -> {
          inbox.retry(link);
        })
        .on(ConnectivityFrame.CTX, (link, f, a) -> contexts.received(link, f.body()))
        .on(ConnectivityFrame.CTX_ACK, (link, f, a) -> contexts.acked(f.body()))
        .on(ConnectivityFrame.APPS, (link, f, a) -> {
          if (links.counterpart().map(p -> p.fingerprint().equals(link.peer())).orElse(false)) {
            counterpart.told(f.body());
            broadcastState();
          }
        })
        .on(ConnectivityFrame.FILE_OFFER, (link, f, a) -> fileReceiver(link).offer(link, f.body()))
        .on(ConnectivityFrame.FILE_CHUNK, (link, f, a) -> fileReceiver(link).chunk(f.body(), a))
        .on(ConnectivityFrame.FILE_END, (link, f, a) -> fileReceiver(link).end(f.body()))
        .on(ConnectivityFrame.FILE_DROP, (link, f, a) -> fileReceiver(link).drop(f.text("id")))
        .on(ConnectivityFrame.FILE_RESUME, (link, f, a) -> {
          Sender s = senders.get(link.peer());
          if (s != null) {
            s.resumeAt(f.text("id"), f.body().path("offset").asLong());
          }
        })
        .on(ConnectivityFrame.FILE_REFUSED, (link, f, a) -> {
          Sender s = senders.get(link.peer());
          if (s != null) {
            s.refused(f.text("id"), f.body());
          }
        })
        .on(ConnectivityFrame.MSG, (link, f, a) -> exec.execute(() -> messages.receive(link, f)))
        .on(ConnectivityFrame.MSG_REPLY, (link, f, a) -> messages.replied(f))
        .complete();
  }

  /** The paired device refused user info for now: resend it later, in order, and tell the apps once. */
  private void itemsRefusedByPeer(PeerLink link, ObjectNode body) {
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

  /** Runs on exec once new inbox rows for {@code app} are committed: deliver, or wake the app. */
  private void arrived(String app) {
    if (current(app) == null) {
      wake(app, "data from the paired device");
    } else {
      deliveries.pump(app);
    }
  }

  /** The app is activated and has received everything: a connectivity task still waiting for it is not needed. */
  private void drained(String app) {
    try {
      context.backgroundWork().connectivityDrained(app);
    } catch (IllegalStateException e) {
      log.debug("no task service to tell that {} drained: {}", app, e.getMessage());
    }
  }

  private void wake(String app, String reason) {
    try {
      context.backgroundWork().connectivityNeedsApp(app, reason);
    } catch (IllegalStateException e) {
      log.info("{} has connectivity data waiting but cannot be woken: {}", app, e.getMessage());
    } catch (RuntimeException e) {
      log.warn("waking {} for connectivity data failed", app, e);
    }
  }

  private void peerAcked(PeerLink link, ObjectNode body) {
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

  private void wakeSender(String peer) {
    Sender s = senders.get(peer);
    if (s != null) {
      s.wake();
    }
  }

  private FileReceiver fileReceiver(PeerLink link) {
    return fileReceivers.computeIfAbsent(link.peer(), k -> new FileReceiver(inDir, inbox));
  }

  // ---------------------------------------------------------------------------------------------- app delivery

}
