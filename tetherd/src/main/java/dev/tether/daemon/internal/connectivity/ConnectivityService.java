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
  /** Upper bound of one multi-item frame's payloads, far below the frame codec's 16 MiB limit. */
  private static final int BATCH_BYTES = 4 * 1024 * 1024;

  private DaemonContext context;
  private Store store;
  private LinkManager links;
  private PairingRequests pairingRequests;
  private RelayRequests relayRequests;
  private Path outDir;
  private Path inDir;
  private final ExecutorService exec = Threads.serial("tether-connectivity");
  private final AtomicLong contextVersions = new AtomicLong(System.currentTimeMillis() * 1000);

  /** Activated sessions per app: changed only on exec, read anywhere through its published snapshot. */
  private final Sessions sessions = new Sessions();
  /** What the counterpart said about its apps. */
  private final CounterpartApps counterpart = new CounterpartApps();
  private LiveMessages messages;
  private AppDeliveries deliveries;
  private final Map<String, Sender> senders = new ConcurrentHashMap<>();
  private final Map<String, FileReceiver> fileReceivers = new ConcurrentHashMap<>();
  private final OutgoingFileStates fileStates = new OutgoingFileStates();

  private final PeerFrames peerFrames = peerFrames();
  private GroupWriter<Outgoing, Long> outboxWriter;
  private Inbox inbox;

  /** A transfer queued by a local app. */
  record Outgoing(String id, String peer, String app, String kind, String payload, String file, long size, String sha256) {}

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
    cleanStaleParts();
    outboxWriter = new GroupWriter<>(store, this::insertOutgoing);
    inbox = new Inbox(store, exec, this::arrived);
    deliveries = new AppDeliveries(store, exec, this::drained);
    long heartbeat = Long.getLong("tether.link.heartbeatMillis", envLong("TETHER_LINK_HEARTBEAT_MS", 1000));
    links = new LinkManager(store, Identity.loadOrCreate(ctx.home().resolve("link")), this, heartbeat, heartbeat * 5);
    messages = new LiveMessages(ctx, links, counterpart, sessions, this::wake);
    links.start();
    // failures an app has not come back for in 30 days are dropped (it is gone, or it has its outstanding lists)
    store.writeAndWait(conn -> {
      try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_failed WHERE failed_at < ?")) {
        del.setLong(1, System.currentTimeMillis() - java.time.Duration.ofDays(30).toMillis());
        return del.executeUpdate();
      }
    });
    // a peer unpaired just before a crash may have left transfers queued for it
    Set<String> paired = new HashSet<>();
    links.peers().forEach(p -> paired.add(p.fingerprint()));
    List<String> queuedFor = store.read(conn -> {
      List<String> l = new ArrayList<>();
      try (PreparedStatement q = conn.prepareStatement("SELECT DISTINCT peer FROM cx_outbox UNION SELECT DISTINCT peer FROM cx_context_out");
           ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          l.add(rs.getString(1));
        }
      }
      return l;
    });
    for (String peer : queuedFor) {
      if (!paired.contains(peer)) {
        failQueuedFor(peer);
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

  /** How long a partly received file may wait for the rest before it counts as abandoned (its sender cancelled it offline). */
  private static final java.time.Duration ABANDONED_PART_AGE = java.time.Duration.ofDays(Long.getLong("tether.abandonedPartDays", 7));

  /**
   * Deletes partly received files that have not grown for {@link #ABANDONED_PART_AGE}: a sender that cancels a file
   * while the link is down cannot say so, and a file still wanted is offered again (and starts over) anyway.
   */
  private void dropAbandonedIncoming() {
    long cutoff = System.currentTimeMillis() - ABANDONED_PART_AGE.toMillis();
    try (var s = Files.list(inDir)) {
      for (Path p : s.toList()) {
        if (p.getFileName().toString().endsWith(".part") && Files.getLastModifiedTime(p).toMillis() < cutoff) {
          log.info("dropping {}: partly received and untouched for over {} days", p.getFileName(), ABANDONED_PART_AGE.toDays());
          Disk.deleteQuietly(p);
        }
      }
    } catch (IOException e) {
      log.warn("cannot look for abandoned incoming files in {}: {}", inDir, e.toString());
    }
  }

  /** Looks for abandoned part files every 6 hours; the next timer is set when this one fires (see TransferService). */
  private void scheduleAbandonedSweep() {
    context.clock().schedule(context.clock().now().plus(java.time.Duration.ofHours(6)), () -> {
      if (!exec.isShutdown()) {
        scheduleAbandonedSweep();
        try {
          exec.execute(this::dropAbandonedIncoming);
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // the daemon is stopping
        }
      }
    });
  }

  private void cleanStaleParts() throws IOException {
    dropAbandonedIncoming();
    scheduleAbandonedSweep();
    try (var s = Files.list(outDir)) {
      for (Path p : s.toList()) {
        String name = p.getFileName().toString();
        if (name.endsWith(".snap")) {
          Files.deleteIfExists(p);
        } else if (name.endsWith(Snapshot.MARKER)) {
          String id = name.substring(0, name.length() - Snapshot.MARKER.length());
          log.warn("dropping file transfer {}: the daemon stopped while capturing it, before its app was told it was queued", id);
          dropCapture(id, outDir.resolve(id), p);
        }
      }
    }
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
    ipc.register(ConnectivityOp.USER_INFO, this::transferUserInfo);
    ipc.register(ConnectivityOp.USER_INFO_BATCH, this::transferUserInfoBatch);
    ipc.register(ConnectivityOp.CONTEXT, this::updateContext);
    ipc.register(ConnectivityOp.FILE, this::transferFile);
    ipc.register(ConnectivityOp.OUTSTANDING, (c, b) -> CompletableFuture.completedFuture(outstanding(c.appId(), b.path("after").asLong(0))));
    ipc.register(ConnectivityOp.CANCEL, this::cancel);
    ipc.register(ConnectivityOp.ACK, (c, b) -> deliveries.ack(c, b));
    ipc.register(ConnectivityOp.FAILED_ACK, this::failuresAcknowledged);
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
    store.writeAndWait(conn -> {
      try (PreparedStatement s = conn.prepareStatement("INSERT INTO cx_apps(app, complication) VALUES (?, ?) "
          + "ON CONFLICT(app) DO UPDATE SET complication = excluded.complication")) {
        s.setString(1, app);
        s.setInt(2, complication ? 1 : 0);
        s.executeUpdate();
      }
      return null;
    });
    deliveries.activated(app, c);
    announceApps();
    messages.activated(app);
    // after the activation answer is on its way, so deliveries reach an activated session
    exec.execute(() -> deliveries.pump(app));
    exec.execute(() -> tellFailures(app));
    ObjectNode s = state(app);
    if (s.path("pending").asInt() == 0) {
      drained(app);
    }
    s.set("applicationContext", contextJson("SELECT payload FROM cx_context_out WHERE app = ? ORDER BY version DESC LIMIT 1", app));
    s.set("receivedApplicationContext", contextJson("SELECT payload FROM cx_context_in WHERE app = ?", app));
    return s;
  }

  private JsonNode contextJson(String sql, String app) {
    String payload = store.read(conn -> {
      try (PreparedStatement s = conn.prepareStatement(sql)) {
        s.setString(1, app);
        try (ResultSet rs = s.executeQuery()) {
          return rs.next() ? rs.getString(1) : null;
        }
      }
    });
    return payload == null ? Json.mapper().nullNode() : Json.parse(payload);
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

  private int remainingComplications(String app) {
    boolean primary = links.localRole().equals("primary");
    boolean shows = counterpart.showsComplication(app);
    int used = primary && shows ? complicationsUsed(app) : 0;
    return ComplicationQuota.remaining(primary, shows, used);
  }

  private int complicationsUsed(String app) {
    long since = ComplicationQuota.countsAfter(context.clock().now());
    return store.read(conn -> {
      try (PreparedStatement s = conn.prepareStatement("SELECT count(*) FROM cx_complications WHERE app = ? AND at > ?")) {
        s.setString(1, app);
        s.setLong(2, since);
        try (ResultSet rs = s.executeQuery()) {
          return rs.next() ? rs.getInt(1) : 0;
        }
      }
    });
  }

  private int pendingCount(String app) {
    return store.read(conn -> {
      try (PreparedStatement s = conn.prepareStatement("SELECT count(*) FROM cx_inbox WHERE app = ?")) {
        s.setString(1, app);
        try (ResultSet rs = s.executeQuery()) {
          return rs.next() ? rs.getInt(1) : 0;
        }
      }
    });
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
    s.put("remainingComplicationUserInfoTransfers", remainingComplications(app));
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
    store.read(conn -> {
      try (PreparedStatement s = conn.prepareStatement("SELECT app, complication FROM cx_apps"); ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          installed.add(rs.getString(1));
          if (rs.getInt(2) != 0) {
            complications.add(rs.getString(1));
          }
        }
      }
      return null;
    });
    l.send(ConnectivityFrame.APPS, a);
  }

  // ---------------------------------------------------------------------------------------------- sending

  private static String newId() {
    return TransferIds.next();
  }

  private CompletableFuture<ObjectNode> transferUserInfo(ClientConnection c, ObjectNode b) {
    String payload = Payloads.checked(b, PropertyList.MAX_MESSAGE_BYTES, "user info");
    String peer = requireCounterpart();
    boolean complication = b.path("complication").asBoolean(false);
    String kind = "userinfo";
    if (complication) {
      if (!links.localRole().equals("primary")) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER,
            "complication user info goes from the primary to a companion only; this device is a companion");
      }
      kind = ComplicationQuota.kind(true, remainingComplications(c.appId()));
    }
    String id = newId();
    String k = kind;
    return outboxWriter.add(new Outgoing(id, peer, c.appId(), kind, payload, null, 0, null)).thenApply(seq -> {
      wakeSender(peer);
      ObjectNode r = Json.object();
      r.put("id", id);
      r.put("complication", k.equals("complication"));
      if (complication) {
        r.put("remainingComplicationUserInfoTransfers", remainingComplications(c.appId()));
      }
      return r;
    });
  }

  /** Many user info transfers in one request (the CLI's {@code --from}): each stored, all answered after the commit. */
  private CompletableFuture<ObjectNode> transferUserInfoBatch(ClientConnection c, ObjectNode b) {
    String peer = requireCounterpart();
    List<CompletableFuture<Long>> parts = new ArrayList<>();
    ArrayNode ids = Json.array();
    List<Outgoing> items = new ArrayList<>();
    for (JsonNode item : b.path("items")) {
      String payload = Payloads.checked((ObjectNode) item, PropertyList.MAX_MESSAGE_BYTES, "user info");
      String id = newId();
      ids.add(id);
      items.add(new Outgoing(id, peer, c.appId(), "userinfo", payload, null, 0, null));
    }
    for (Outgoing o : items) {
      parts.add(outboxWriter.add(o));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenApply(x -> {
      wakeSender(peer);
      ObjectNode r = Json.object();
      r.set("ids", ids);
      return r;
    });
  }

  private List<Long> insertOutgoing(Connection conn, List<Outgoing> items) throws SQLException {
    List<Long> seqs = new ArrayList<>(items.size());
    long now = System.currentTimeMillis();
    try (PreparedStatement s = conn.prepareStatement("INSERT INTO cx_outbox(id, peer, app, kind, payload, file, size, sha256, created_at) "
        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
         PreparedStatement log = conn.prepareStatement("INSERT INTO cx_complications(app, at) VALUES (?, ?)");
         PreparedStatement forget = conn.prepareStatement("DELETE FROM cx_complications WHERE app = ? AND at <= ?")) {
      for (Outgoing o : items) {
        s.setString(1, o.id());
        s.setString(2, o.peer());
        s.setString(3, o.app());
        s.setString(4, o.kind());
        s.setString(5, o.payload());
        s.setString(6, o.file());
        s.setLong(7, o.size());
        s.setString(8, o.sha256());
        s.setLong(9, now);
        s.executeUpdate();
        seqs.add(0L);
        if (o.kind().equals("complication")) {
          long at = context.clock().now().toEpochMilli();
          log.setString(1, o.app());
          log.setLong(2, at);
          log.executeUpdate();
          // only the last day counts (remainingComplications): older entries go
          forget.setString(1, o.app());
          forget.setLong(2, ComplicationQuota.forgetUpTo(at));
          forget.executeUpdate();
        }
      }
    }
    return seqs;
  }

  private CompletableFuture<ObjectNode> updateContext(ClientConnection c, ObjectNode b) {
    String payload = Payloads.checked(b, PropertyList.MAX_CONTEXT_BYTES, "application context");
    String peer = requireCounterpart();
    String app = c.appId();
    String id = newId();
    long version = contextVersions.incrementAndGet();
    return store.write(conn -> {
      try (PreparedStatement s = conn.prepareStatement("SELECT payload FROM cx_context_out WHERE app = ? ORDER BY version DESC LIMIT 1")) {
        s.setString(1, app);
        try (ResultSet rs = s.executeQuery()) {
          if (rs.next() && rs.getString(1).equals(payload)) {
            return false;
          }
        }
      }
      try (PreparedStatement s = conn.prepareStatement("INSERT INTO cx_context_out(app, peer, id, version, payload, sent) VALUES (?, ?, ?, ?, ?, 0) "
          + "ON CONFLICT(app, peer) DO UPDATE SET id = excluded.id, version = excluded.version, payload = excluded.payload, sent = 0")) {
        s.setString(1, app);
        s.setString(2, peer);
        s.setString(3, id);
        s.setLong(4, version);
        s.setString(5, payload);
        s.executeUpdate();
      }
      return true;
    }).thenApply(sent -> {
      if (sent) {
        wakeSender(peer);
      }
      ObjectNode r = Json.object();
      r.put("sent", sent);
      return r;
    });
  }

  private CompletableFuture<ObjectNode> transferFile(ClientConnection c, ObjectNode b) throws IOException {
    String peer = requireCounterpart();
    Path source = Path.of(b.path("path").asText());
    if (!source.isAbsolute()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "file path must be absolute: " + source);
    }
    if (Files.isDirectory(source)) {
      throw new TetherException(ErrorCode.FILE_NOT_FOUND, "cannot send " + source + ": it is a folder; transferFile sends one"
          + " file (pack a folder into an archive first)");
    }
    if (!Files.isRegularFile(source)) {
      throw new TetherException(ErrorCode.FILE_NOT_FOUND, "no file at " + source);
    }
    if (!Files.isReadable(source)) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot read " + source);
    }
    ObjectNode meta = Json.object();
    if (b.hasNonNull("metadata")) {
      meta.set("metadata", Json.parse(Payloads.checked(Payloads.withPayload(b.get("metadata")), PropertyList.MAX_MESSAGE_BYTES, "file metadata")));
    }
    meta.put("name", source.getFileName().toString());
    String id = newId();
    Path dest = outDir.resolve(id);
    Path marker = outDir.resolve(id + Snapshot.MARKER);
    try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
      Snapshot capture = new Snapshot(dest, in.size());
      CompletableFuture<Long> queued = null;
      try (FileChannel out = FileChannel.open(dest, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        // the marker is durable before the outbox row: a daemon that finds it on start drops the half-made transfer
        Files.createFile(marker);
        Disk.syncDir(outDir);
        fileStates.captures.put(id, capture);
        queued = outboxWriter.add(new Outgoing(id, peer, c.appId(), "file", Json.write(meta), dest.toString(), capture.size(), null));
        queued.thenRun(() -> {
          Sender sender = senders.get(peer);
          if (sender != null) {
            sender.wakeFiles();
          }
        });
        // a kernel-side copy (FileChannel.transferTo) that the sender reads behind; the SHA-256 is computed while sending
        long copied = capture.copy(in, out);
        if (copied < capture.size()) {
          throw new IOException(source + " shrank from " + capture.size() + " to " + copied + " bytes while it was captured");
        }
        out.force(true);
      } catch (IOException | RuntimeException e) {
        capture.fail(e.toString());
        if (queued != null) {
          // the row's commit may still be on its way: the delete goes after it
          try {
            queued.join();
          } catch (RuntimeException notStored) {
            // nothing to delete then
          }
        }
        dropCapture(id, dest, marker);
        if (Disk.diskFull(e)) {
          throw new TetherException(ErrorCode.INSUFFICIENT_SPACE, "no space to snapshot " + source + ": " + e.getMessage(), e);
        }
        throw e;
      }
      Files.delete(marker);
      Disk.syncDir(outDir);
      return queued.whenComplete((seq, failure) -> {
        fileStates.captures.remove(id);
        if (failure != null) {
          capture.fail(failure.toString());
          Disk.deleteQuietly(dest);
        }
      }).thenApply(seq -> {
        ObjectNode r = Json.object();
        r.put("id", id);
        r.put("size", capture.size());
        return r;
      });
    }
  }

  /**
   * Undoes a capture that failed half-way: the partial copy first (a full disk gets its room back), then the outbox
   * row (if committed), and the marker last, so that a row that could not be deleted is dropped on the next start.
   */
  private void dropCapture(String id, Path dest, Path marker) {
    fileStates.captures.remove(id);
    // truncated first: the sender may still hold the copy open, and a deleted but open file keeps its blocks, which a
    // full disk needs back for the row's delete below
    try (FileChannel partial = FileChannel.open(dest, StandardOpenOption.WRITE)) {
      partial.truncate(0);
    } catch (IOException gone) {
      // nothing to give back
    }
    Disk.deleteQuietly(dest);
    try {
      store.writeAndWait(conn -> {
        try (PreparedStatement s = conn.prepareStatement("DELETE FROM cx_outbox WHERE id = ?")) {
          s.setString(1, id);
          s.executeUpdate();
        }
        return null;
      });
    } catch (RuntimeException e) {
      log.warn("cannot drop the half-made file transfer {} now (the next start does): {}", id, e.toString());
      return;
    }
    Disk.deleteQuietly(marker);
  }

  /**
   * One page of the app's outstanding transfers, in order, from after sequence number {@code after}: up to
   * {@link #BATCH_BYTES} of payloads, so that an answer stays far below the frame limit however many large user infos
   * wait (300 of 60 KiB are 18 MB). {@code next}, present when more follow, is where the next page starts.
   */
  private ObjectNode outstanding(String app, long after) {
    ObjectNode r = Json.object();
    ArrayNode infos = r.putArray("userInfo");
    ArrayNode files = r.putArray("files");
    store.read(conn -> {
      try (PreparedStatement s = conn.prepareStatement("SELECT id, kind, payload, size, created_at, seq FROM cx_outbox WHERE app = ? AND seq > ? ORDER BY seq")) {
        s.setString(1, app);
        s.setLong(2, after);
        long bytes = 0;
        try (ResultSet rs = s.executeQuery()) {
          while (rs.next()) {
            String text = rs.getString(3);
            bytes += (text == null ? 0 : text.length()) + 200;
            if (bytes > BATCH_BYTES && (infos.size() + files.size()) > 0) {
              r.put("next", rs.getLong(6) - 1);
              break;
            }
            ObjectNode o = Json.object();
            o.put("id", rs.getString(1));
            String kind = rs.getString(2);
            o.put("createdAt", java.time.Instant.ofEpochMilli(rs.getLong(5)).toString());
            if (kind.equals("file")) {
              ObjectNode meta = (ObjectNode) Json.parse(text);
              o.put("name", meta.path("name").asText());
              if (meta.has("metadata")) {
                o.set("metadata", meta.get("metadata"));
              }
              o.put("size", rs.getLong(4));
              ObjectNode blocked = fileStates.blocked.get(rs.getString(1));
              if (blocked != null) {
                o.put("errorCode", blocked.path("code").asText());
                o.put("error", blocked.path("error").asText());
              }
              files.add(o);
            } else {
              o.put("complication", kind.equals("complication"));
              o.set("payload", Json.parse(text));
              ObjectNode blocked = blockedInfo.get(app);
              if (blocked != null) {
                o.put("errorCode", blocked.path("code").asText());
                o.put("error", blocked.path("error").asText());
              }
              infos.add(o);
            }
          }
        }
      }
      return null;
    });
    return r;
  }

  private CompletableFuture<ObjectNode> cancel(ClientConnection c, ObjectNode b) {
    String id = b.path("id").asText();
    return store.write(conn -> {
      String file = null;
      try (PreparedStatement s = conn.prepareStatement("SELECT file FROM cx_outbox WHERE id = ? AND app = ?")) {
        s.setString(1, id);
        s.setString(2, c.appId());
        try (ResultSet rs = s.executeQuery()) {
          if (!rs.next()) {
            throw new TetherException(ErrorCode.UNKNOWN_TRANSFER, "no outstanding transfer " + id + " of " + c.appId()
                + " (it may have finished already)");
          }
          file = rs.getString(1);
        }
      }
      try (PreparedStatement s = conn.prepareStatement("DELETE FROM cx_outbox WHERE id = ? AND app = ?")) {
        s.setString(1, id);
        s.setString(2, c.appId());
        s.executeUpdate();
      }
      return file;
    }).thenApply(file -> {
      if (file != null) {
        fileStates.cancelled.add(id);
        Disk.deleteQuietly(Path.of(file));
        // the paired device drops what it holds of the file (were the link down, its copy expires by itself)
        ObjectNode drop = Json.object();
        drop.put("id", id);
        for (Peer p : links.peers()) {
          links.link(p.fingerprint()).ifPresent(l -> l.send(ConnectivityFrame.FILE_DROP, drop));
        }
      }
      ObjectNode r = Json.object();
      r.put("id", id);
      r.put("cancelled", true);
      return r;
    });
  }

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
    announceLow(link);
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
    failQueuedFor(peer);
    broadcastState();
  }

  /**
   * Ends every transfer queued for a peer that is no longer paired: nothing can deliver it now. Each is removed from
   * the outstanding lists and its app is told it finished with {@code DELIVERY_FAILED}; its file snapshot is deleted.
   */
  private void failQueuedFor(String peer) {
    String why = "the paired device " + peer.substring(0, Math.min(12, peer.length())) + " was unpaired before it received this transfer";
    store.write(conn -> {
      List<String[]> failed = new ArrayList<>();
      try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_outbox WHERE peer = ? RETURNING app, id, kind, file")) {
        del.setString(1, peer);
        try (ResultSet rs = del.executeQuery()) {
          while (rs.next()) {
            failed.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)});
          }
        }
      }
      // the app may not be running: what it must be told is kept until it has acknowledged it
      try (PreparedStatement ins = conn.prepareStatement("INSERT INTO cx_failed(app, id, kind, code, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)")) {
        for (String[] d : failed) {
          ins.setString(1, d[0]);
          ins.setString(2, d[1]);
          ins.setString(3, d[2].equals("file") ? "file" : "userInfo");
          ins.setString(4, ErrorCode.DELIVERY_FAILED.name());
          ins.setString(5, why);
          ins.setLong(6, System.currentTimeMillis());
          ins.addBatch();
        }
        ins.executeBatch();
      }
      try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_context_out WHERE peer = ?")) {
        del.setString(1, peer);
        del.executeUpdate();
      }
      return failed;
    }).whenComplete((failed, failure) -> {
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
        for (String[] d : failed) {
          if (d[3] != null) {
            Disk.deleteQuietly(Path.of(d[3]));
          }
          apps.add(d[0]);
        }
        apps.forEach(this::tellFailures);
      });
    });
  }

  /**
   * Tells the app's open sessions about its transfers that failed for good ({@code cx.finished} with the error and a
   * {@code failure} number the client acknowledges with {@code cx.failed.ack} after its delegate returned). Runs on
   * activation and when new failures are recorded; an app that is not running is told at its next activation.
   */
  private void tellFailures(String app) {
    List<ClientConnection> targets = sessions.of(app);
    if (targets.isEmpty()) {
      return;
    }
    List<ObjectNode> events = store.read(conn -> {
      List<ObjectNode> l = new ArrayList<>();
      try (PreparedStatement q = conn.prepareStatement("SELECT seq, id, kind, code, error FROM cx_failed WHERE app = ? ORDER BY seq")) {
        q.setString(1, app);
        try (ResultSet rs = q.executeQuery()) {
          while (rs.next()) {
            ObjectNode ev = Json.object();
            ev.put("failure", rs.getLong(1));
            ev.put("id", rs.getString(2));
            ev.put("kind", rs.getString(3));
            ev.put("code", rs.getString(4));
            ev.put("error", rs.getString(5));
            l.add(ev);
          }
        }
      }
      return l;
    });
    ClientConnection c = targets.get(targets.size() - 1);
    for (ObjectNode ev : events) {
      c.push(ConnectivityPush.FINISHED, ev);
    }
  }

  /** The app's delegate has been told of these failures: forget them. */
  private CompletableFuture<ObjectNode> failuresAcknowledged(ClientConnection c, ObjectNode b) {
    List<Long> seqs = new ArrayList<>();
    b.path("failures").forEach(n -> seqs.add(n.asLong()));
    return store.write(conn -> {
      try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_failed WHERE seq = ? AND app = ?")) {
        for (long seq : seqs) {
          del.setLong(1, seq);
          del.setString(2, c.appId());
          del.addBatch();
        }
        del.executeBatch();
      }
      return Json.object();
    });
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
        .on(ConnectivityFrame.CTX, (link, f, a) -> receiveContext(link, f.body()))
        .on(ConnectivityFrame.CTX_ACK, (link, f, a) -> contextAcked(f.body()))
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

  /** User info a sender app queued that the paired device refused for now, per app: the refusal it was told. */
  private final Map<String, ObjectNode> blockedInfo = new ConcurrentHashMap<>();

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
      if (blockedInfo.put(app, ev) == null) {
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

  /** How often at most this device tells a peer how far its outbox for that peer is acknowledged. */
  private static final long LOW_EVERY_MILLIS = Long.getLong("tether.cx.lowEveryMillis", 5_000);
  /** When each peer was last told ({@link #announceLow}). */
  private final Map<String, Long> lowAnnounced = new ConcurrentHashMap<>();
  /** The last {@code low} sent on each link, and the links with an announcement scheduled. */
  private final Map<PeerLink, Long> lowSent = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());
  private final Set<PeerLink> lowLater = ConcurrentHashMap.newKeySet();

  /**
   * Tells the peer (at most every {@link #LOW_EVERY_MILLIS}) the lowest sequence number still in this device's outbox
   * for it: everything below has been acknowledged and deleted, so it is never sent again and the peer may forget
   * those ids. Sequence numbers only grow ({@code AUTOINCREMENT}), so with an empty outbox the next one to be
   * assigned is the bound. An announcement held back by the interval is sent at its end, and a new bound is sent once
   * more an interval later (the peer forgets below the bound it was told the time before), so that once traffic
   * stops the peer keeps nothing after two intervals.
   */
  private void announceLow(PeerLink link) {
    String peer = link.peer();
    if (!link.isOpen()) {
      return;
    }
    long now = System.currentTimeMillis();
    Long last = lowAnnounced.get(peer);
    if (last != null && now - last < LOW_EVERY_MILLIS) {
      announceLowLater(link, last + LOW_EVERY_MILLIS - now);
      return;
    }
    lowAnnounced.put(peer, now);
    exec.execute(() -> {
      long low = store.read(conn -> {
        try (PreparedStatement q = conn.prepareStatement("SELECT min(seq) FROM cx_outbox WHERE peer = ?")) {
          q.setString(1, peer);
          try (ResultSet rs = q.executeQuery()) {
            if (rs.next() && rs.getObject(1) != null) {
              return rs.getLong(1);
            }
          }
        }
        try (PreparedStatement q = conn.prepareStatement("SELECT seq FROM sqlite_sequence WHERE name = 'cx_outbox'");
             ResultSet rs = q.executeQuery()) {
          return rs.next() ? rs.getLong(1) + 1 : 1L;
        }
      });
      ObjectNode b = Json.object();
      b.put("low", low);
      link.send(ConnectivityFrame.LOW, b);
      Long before = lowSent.put(link, low);
      if (before == null || before != low) {
        announceLowLater(link, LOW_EVERY_MILLIS);
      }
    });
  }

  private void announceLowLater(PeerLink link, long millis) {
    if (lowLater.add(link)) {
      context.clock().schedule(context.clock().now().plusMillis(millis), () -> {
        lowLater.remove(link);
        announceLow(link);
      });
    }
  }

  private void peerAcked(PeerLink link, ObjectNode body) {
    List<Long> seqs = new ArrayList<>();
    body.path("seqs").forEach(n -> seqs.add(n.asLong()));
    Sender s = senders.get(link.peer());
    store.write(conn -> {
      List<String[]> done = new ArrayList<>();
      for (int from = 0; from < seqs.size(); from += 500) {
        List<Long> part = seqs.subList(from, Math.min(seqs.size(), from + 500));
        String marks = String.join(",", java.util.Collections.nCopies(part.size(), "?"));
        try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_outbox WHERE seq IN (" + marks + ") RETURNING app, id, kind, file")) {
          for (int i = 0; i < part.size(); i++) {
            del.setLong(i + 1, part.get(i));
          }
          try (ResultSet rs = del.executeQuery()) {
            while (rs.next()) {
              done.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)});
            }
          }
        }
      }
      return done;
    }).whenComplete((done, failure) -> {
      if (s != null) {
        s.acked(seqs);
      }
      if (failure != null) {
        log.error("recording acknowledgements from {} failed", link.peer(), failure);
        return;
      }
      announceLow(link);
      exec.execute(() -> {
        for (String[] d : done) {
          if (!d[2].equals("file") && blockedInfo.remove(d[0]) != null) {
            log.info("the paired device stores user info of {} again", d[0]);
          }
          if (d[3] != null) {
            Disk.deleteQuietly(Path.of(d[3]));
          }
          ObjectNode ev = Json.object();
          ev.put("id", d[1]);
          ev.put("kind", d[2].equals("file") ? "file" : "userInfo");
          for (ClientConnection c : sessions.of(d[0])) {
            c.push(ConnectivityPush.FINISHED, ev);
          }
        }
      });
    });
  }

  private void receiveContext(PeerLink link, ObjectNode b) {
    String app = b.path("app").asText();
    String id = b.path("id").asText();
    long version = b.path("version").asLong();
    String payload = b.get("payload").toString();
    store.write(conn -> {
      // a context sent again, or overtaken by a newer one, has a version not above the stored one: dropped (contexts
      // are not kept in cx_seen, which only the outbox's sequence numbers prune)
      try (PreparedStatement s = conn.prepareStatement("SELECT version FROM cx_context_in WHERE app = ?")) {
        s.setString(1, app);
        try (ResultSet rs = s.executeQuery()) {
          if (rs.next() && rs.getLong(1) >= version) {
            return false;
          }
        }
      }
      try (PreparedStatement s = conn.prepareStatement("INSERT INTO cx_context_in(app, id, version, payload) VALUES (?, ?, ?, ?) "
          + "ON CONFLICT(app) DO UPDATE SET id = excluded.id, version = excluded.version, payload = excluded.payload")) {
        s.setString(1, app);
        s.setString(2, id);
        s.setLong(3, version);
        s.setString(4, payload);
        s.executeUpdate();
      }
      try (PreparedStatement s = conn.prepareStatement("DELETE FROM cx_inbox WHERE app = ? AND kind = 'context'")) {
        s.setString(1, app);
        s.executeUpdate();
      }
      try (PreparedStatement s = conn.prepareStatement("INSERT INTO cx_inbox(id, peer, app, kind, payload, received_at) VALUES (?, ?, ?, 'context', ?, ?)")) {
        s.setString(1, id);
        s.setString(2, link.peer());
        s.setString(3, app);
        s.setString(4, payload);
        s.setLong(5, System.currentTimeMillis());
        s.executeUpdate();
      }
      return true;
    }).whenComplete((fresh, failure) -> {
      if (failure != null) {
        log.error("storing an application context for {} failed", app, failure);
        return;
      }
      ObjectNode ack = Json.object();
      ack.put("app", app);
      ack.put("id", id);
      link.send(ConnectivityFrame.CTX_ACK, ack);
      if (fresh) {
        exec.execute(() -> {
          deliveries.contextReplaced(app);
          arrived(app);
        });
      }
    });
  }

  private void contextAcked(ObjectNode b) {
    store.write(conn -> {
      try (PreparedStatement s = conn.prepareStatement("UPDATE cx_context_out SET sent = 1 WHERE app = ? AND id = ?")) {
        s.setString(1, b.path("app").asText());
        s.setString(2, b.path("id").asText());
        s.executeUpdate();
      }
      return null;
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
