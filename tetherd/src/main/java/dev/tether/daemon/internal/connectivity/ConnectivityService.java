package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.link.Identity;
import dev.tether.daemon.internal.link.LinkManager;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.daemon.internal.relay.RelayBroker;
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
import java.time.Duration;
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
 */
public final class ConnectivityService implements DaemonService, LinkManager.Listener {
  private static final Logger log = LoggerFactory.getLogger(ConnectivityService.class);
  static final int COMPLICATION_PER_DAY = 50;
  private static final int APP_WINDOW = 4096;
  private static final int PEER_WINDOW = 8192;
  private static final int CHUNK = 1024 * 1024;
  /** Upper bound of one multi-item frame's payloads, far below the frame codec's 16 MiB limit. */
  private static final int BATCH_BYTES = 4 * 1024 * 1024;

  private DaemonContext context;
  private Store store;
  private LinkManager links;
  private Path outDir;
  private Path inDir;
  private final ExecutorService exec = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "tether-connectivity");
    t.setDaemon(true);
    return t;
  });
  private final AtomicLong contextVersions = new AtomicLong(System.currentTimeMillis() * 1000);

  /** Activated sessions per app, newest last; the newest open one receives deliveries. Guarded by exec. */
  private final Map<String, List<ClientConnection>> sessions = new ConcurrentHashMap<>();
  private final Map<String, AppDelivery> deliveries = new HashMap<>();
  /** What the counterpart said about its apps. */
  private volatile Set<String> counterpartInstalled = Set.of();
  private volatile Set<String> counterpartRunning = Set.of();
  private volatile Set<String> counterpartComplications = Set.of();
  private final Map<String, Sender> senders = new ConcurrentHashMap<>();
  /** File transfers the app cancelled while they may be on their way: the sender stops sending them. */
  private final Set<String> cancelledFiles = ConcurrentHashMap.newKeySet();
  private final Map<String, FileReceiver> fileReceivers = new ConcurrentHashMap<>();
  /** Outgoing files still being captured (by id), which their sender reads behind the copy. */
  private final Map<String, Snapshot> captures = new ConcurrentHashMap<>();
  /** Outgoing files the paired device refused for now (by id): the refusal, until a later attempt gets further. */
  private final Map<String, ObjectNode> blockedFiles = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<ObjectNode>> pendingMessages = new ConcurrentHashMap<>();
  /** The link each pending message went out on: when it drops, the message's sender is told at once. */
  private final Map<String, PeerLink> pendingMessageLinks = new ConcurrentHashMap<>();
  private final Map<String, PeerLink> messageOrigins = new ConcurrentHashMap<>();
  private final Map<String, String> messageApps = new ConcurrentHashMap<>();
  private final Map<String, List<Frame>> heldMessages = new ConcurrentHashMap<>();

  private GroupWriter<Outgoing, Long> outboxWriter;
  private GroupWriter<Incoming, Boolean> inboxWriter;
  private GroupWriter<AppAck, Void> ackWriter;

  /** An app's acknowledgement of inbox rows; only its own rows are deleted. */
  record AppAck(String app, long[] seqs) {}

  /** A transfer queued by a local app. */
  record Outgoing(String id, String peer, String app, String kind, String payload, String file, long size, String sha256) {}

  /** An item that arrived from the peer. */
  record Incoming(long peerSeq, String id, String peer, String app, String kind, String payload, String file) {}

  private static final class AppDelivery {
    ClientConnection target;
    long cursor;
    final Set<Long> inFlight = new HashSet<>();
    final Set<Long> acking = new HashSet<>();
    final Set<Long> redelivered = new HashSet<>();
  }

  /**
   * Makes the database and its WAL files readable and writable by their owner only (0600; SQLite gives later WAL files
   * the database's mode), before a private key is stored in it. The home is 0700 as well; this holds if it is widened.
   */
  private static void ownerOnly(Path db) {
    for (String suffix : List.of("", "-wal", "-shm")) {
      Path f = db.resolveSibling(db.getFileName() + suffix);
      try {
        if (Files.exists(f)) {
          Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        }
      } catch (IOException | UnsupportedOperationException e) {
        log.warn("cannot make {} readable by its owner only: {}", f, e.toString());
      }
    }
  }

  /** A string field of a request body; null when it is absent or JSON null. */
  private static String text(JsonNode body, String field) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isTextual()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "\"" + field + "\" must be a string");
    }
    return n.asText();
  }

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
    inboxWriter = new GroupWriter<>(store, this::insertIncoming);
    ackWriter = new GroupWriter<>(store, this::deleteAcked);
    long heartbeat = Long.getLong("tether.link.heartbeatMillis", envLong("TETHER_LINK_HEARTBEAT_MS", 1000));
    links = new LinkManager(store, Identity.loadOrCreate(ctx.home().resolve("link")), this, heartbeat, heartbeat * 5);
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

  private static long sizeOf(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      return -1;
    }
  }

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
          deleteQuietly(p);
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
    if (links != null) {
      links.close();
    }
    exec.shutdownNow();
  }

  // ============================================================================================ IPC

  private void register(DaemonContext ctx) {
    var ipc = ctx.ipc();
    ipc.register("cx.pair.listen", (c, b) -> {
      Integer port = b.hasNonNull("port") ? b.get("port").asInt() : null;
      LinkManager.PairingOffer o = links.listen(port, b.path("role").asText("primary"), b.hasNonNull("host") ? b.get("host").asText() : null);
      ObjectNode r = Json.object();
      r.put("address", o.address());
      r.put("code", o.code());
      r.put("role", o.role());
      r.put("expires", o.expires().toString());
      r.put("fingerprint", links.identity().fingerprint());
      return CompletableFuture.completedFuture(r);
    });
    ipc.register("cx.pair.wait", (c, b) -> links.awaitPairing(b.path("code").asText()).thenApply(Peer::toJson));
    ipc.register("cx.pair.connect", (c, b) -> CompletableFuture.supplyAsync(() -> {
      try {
        return links.pair(b.path("address").asText(), b.path("code").asText()).toJson();
      } catch (IOException e) {
        throw new TetherException(ErrorCode.PAIRING_FAILED, "cannot reach " + b.path("address").asText() + ": " + e.getMessage(), e);
      }
    }));
    ipc.register("cx.peers", (c, b) -> {
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
      return CompletableFuture.completedFuture(r);
    });
    ipc.register("cx.relay.set", (c, b) -> CompletableFuture.supplyAsync(() -> {
      if (!b.hasNonNull("broker") || b.get("broker").asText().isBlank()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "cx.relay.set needs \"broker\": \"mqtts://HOST[:PORT]\" "
            + "or \"mqtt://HOST[:PORT]\"");
      }
      RelayBroker broker = RelayBroker.parse(b.get("broker").asText().trim(), text(b, "username"), text(b, "password"),
          text(b, "caPem"), text(b, "clientCertPem"), text(b, "clientKeyPem"));
      if (broker.clientCert() != null) {
        ownerOnly(TetherPaths.database(context.home()));
      }
      links.setRelay(broker);
      return links.relayStatus();
    }));
    ipc.register("cx.relay.clear", (c, b) -> CompletableFuture.supplyAsync(() -> {
      links.setRelay(null);
      return links.relayStatus();
    }));
    ipc.register("cx.relay.status", (c, b) -> CompletableFuture.completedFuture(links.relayStatus()));
    ipc.register("cx.unpair", (c, b) -> CompletableFuture.completedFuture(links.unpair(b.path("peer").asText()).toJson()));
    ipc.register("cx.peers.activate", (c, b) -> CompletableFuture.completedFuture(links.activate(b.path("peer").asText()).toJson()));
    ipc.register("cx.activate", (c, b) -> onExec(() -> activate(c, b)));
    ipc.register("cx.state", (c, b) -> onExec(() -> state(c.appId())));
    ipc.register("cx.userinfo", this::transferUserInfo);
    ipc.register("cx.userinfo.batch", this::transferUserInfoBatch);
    ipc.register("cx.context", this::updateContext);
    ipc.register("cx.file", this::transferFile);
    ipc.register("cx.outstanding", (c, b) -> CompletableFuture.completedFuture(outstanding(c.appId(), b.path("after").asLong(0))));
    ipc.register("cx.cancel", this::cancel);
    ipc.register("cx.ack", this::appAck);
    ipc.register("cx.failed.ack", this::failuresAcknowledged);
    ipc.register("cx.message", this::sendMessage);
    ipc.register("cx.reply", this::replyFromApp);
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
    List<ClientConnection> list = sessions.computeIfAbsent(app, k -> new ArrayList<>());
    list.remove(c);
    list.add(c);
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
    AppDelivery d = deliveries.computeIfAbsent(app, k -> new AppDelivery());
    if (d.target != c) {
      retarget(d, c);
    }
    announceApps();
    List<Frame> held = heldMessages.remove(app);
    if (held != null) {
      for (Frame f : held) {
        deliverMessage(app, f);
      }
    }
    // after the activation answer is on its way, so deliveries reach an activated session
    exec.execute(() -> pump(app));
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

  private void retarget(AppDelivery d, ClientConnection c) {
    d.redelivered.addAll(d.inFlight);
    d.inFlight.clear();
    d.target = c;
    d.cursor = 0;
  }

  private void sessionClosed(ClientConnection c) {
    List<ClientConnection> list = sessions.get(c.appId());
    if (list == null || !list.remove(c)) {
      return;
    }
    AppDelivery d = deliveries.get(c.appId());
    if (d != null && d.target == c) {
      d.redelivered.addAll(d.inFlight);
      d.inFlight.clear();
      d.target = null;
      ClientConnection next = current(c.appId());
      if (next != null) {
        retarget(d, next);
        pump(c.appId());
      }
    }
    announceApps();
  }

  private ClientConnection current(String app) {
    List<ClientConnection> list = sessions.get(app);
    if (list == null) {
      return null;
    }
    list.removeIf(x -> !x.isOpen());
    return list.isEmpty() ? null : list.get(list.size() - 1);
  }

  private boolean reachable(String app) {
    Optional<Peer> cp = links.counterpart();
    return cp.isPresent() && links.isUp(cp.get().fingerprint()) && counterpartRunning.contains(app);
  }

  private int remainingComplications(String app) {
    if (!links.localRole().equals("primary") || !counterpartComplications.contains(app)) {
      return 0;
    }
    long since = context.clock().now().minus(Duration.ofDays(1)).toEpochMilli();
    int used = store.read(conn -> {
      try (PreparedStatement s = conn.prepareStatement("SELECT count(*) FROM cx_complications WHERE app = ? AND at > ?")) {
        s.setString(1, app);
        s.setLong(2, since);
        try (ResultSet rs = s.executeQuery()) {
          return rs.next() ? rs.getInt(1) : 0;
        }
      }
    });
    return Math.max(0, COMPLICATION_PER_DAY - used);
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

  private boolean anyPending(String app) {
    return store.exists("SELECT 1 FROM cx_inbox WHERE app = ? LIMIT 1", app);
  }

  private ObjectNode state(String app) {
    ObjectNode s = Json.object();
    Optional<Peer> cp = links.counterpart();
    s.put("state", "ACTIVATED");
    s.put("paired", cp.isPresent());
    s.put("role", links.localRole());
    cp.ifPresent(p -> s.put("peer", p.fingerprint()));
    s.put("counterpartAppInstalled", counterpartInstalled.contains(app));
    s.put("complicationEnabled", counterpartComplications.contains(app));
    s.put("reachable", reachable(app));
    s.put("remainingComplicationUserInfoTransfers", remainingComplications(app));
    s.put("pending", pendingCount(app));
    return s;
  }

  /** Tells every activated session its current state (reachability and pairing changes). */
  private void broadcastState() {
    exec.execute(() -> {
      for (Map.Entry<String, List<ClientConnection>> e : sessions.entrySet()) {
        List<ClientConnection> list = List.copyOf(e.getValue());
        if (list.isEmpty()) {
          continue;
        }
        ObjectNode s = state(e.getKey());
        for (ClientConnection c : list) {
          c.push("cx.state", s);
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
    sessions.forEach((app, list) -> {
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
    l.send("apps", a);
  }

  // ---------------------------------------------------------------------------------------------- sending

  private static String newId() {
    return TransferIds.next();
  }

  private CompletableFuture<ObjectNode> transferUserInfo(ClientConnection c, ObjectNode b) {
    String payload = checkedPayload(b, PropertyList.MAX_MESSAGE_BYTES, "user info");
    String peer = requireCounterpart();
    boolean complication = b.path("complication").asBoolean(false);
    String kind = "userinfo";
    if (complication) {
      if (!links.localRole().equals("primary")) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER,
            "complication user info goes from the primary to a companion only; this device is a companion");
      }
      if (remainingComplications(c.appId()) > 0) {
        kind = "complication";
      }
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
      String payload = checkedPayload((ObjectNode) item, PropertyList.MAX_MESSAGE_BYTES, "user info");
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

  private static String checkedPayload(ObjectNode b, int max, String what) {
    JsonNode p = b.get("payload");
    if (p == null || !p.isObject() || !p.has("m")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, what + " is missing its payload map");
    }
    PropertyList.checkEncoded(p);
    String text = Json.sourceText(p);
    // the limit applies to the payload written compactly, as the client library measured it (a frame's own text may
    // be longer: escapes, spaces)
    if (text.length() > max && Json.write(p).getBytes(java.nio.charset.StandardCharsets.UTF_8).length > max) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, what + " is larger than " + max + " bytes encoded");
    }
    return text;
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
          forget.setLong(2, at - Duration.ofDays(1).toMillis());
          forget.executeUpdate();
        }
      }
    }
    return seqs;
  }

  private CompletableFuture<ObjectNode> updateContext(ClientConnection c, ObjectNode b) {
    String payload = checkedPayload(b, PropertyList.MAX_CONTEXT_BYTES, "application context");
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
      meta.set("metadata", Json.parse(checkedPayload(withPayload(b.get("metadata")), PropertyList.MAX_MESSAGE_BYTES, "file metadata")));
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
        syncDir(outDir);
        captures.put(id, capture);
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
        if (diskFull(e)) {
          throw new TetherException(ErrorCode.INSUFFICIENT_SPACE, "no space to snapshot " + source + ": " + e.getMessage(), e);
        }
        throw e;
      }
      Files.delete(marker);
      syncDir(outDir);
      return queued.whenComplete((seq, failure) -> {
        captures.remove(id);
        if (failure != null) {
          capture.fail(failure.toString());
          deleteQuietly(dest);
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
    captures.remove(id);
    // truncated first: the sender may still hold the copy open, and a deleted but open file keeps its blocks, which a
    // full disk needs back for the row's delete below
    try (FileChannel partial = FileChannel.open(dest, StandardOpenOption.WRITE)) {
      partial.truncate(0);
    } catch (IOException gone) {
      // nothing to give back
    }
    deleteQuietly(dest);
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
    deleteQuietly(marker);
  }

  private static ObjectNode withPayload(JsonNode p) {
    ObjectNode o = Json.object();
    o.set("payload", p);
    return o;
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void syncDir(Path dir) throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
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
              ObjectNode blocked = blockedFiles.get(rs.getString(1));
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
        cancelledFiles.add(id);
        deleteQuietly(Path.of(file));
        // the paired device drops what it holds of the file (were the link down, its copy expires by itself)
        ObjectNode drop = Json.object();
        drop.put("id", id);
        for (Peer p : links.peers()) {
          links.link(p.fingerprint()).ifPresent(l -> l.send("file.drop", drop));
        }
      }
      ObjectNode r = Json.object();
      r.put("id", id);
      r.put("cancelled", true);
      return r;
    });
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", p, e.toString());
    }
  }

  // ---------------------------------------------------------------------------------------------- peer links

  @Override
  public void linkUp(PeerLink link) {
    // a new link starts from the lowest unacknowledged item, in order: nothing of an earlier refusal carries over
    refusingPeers.remove(link.peer());
    sendApps(link);
    Sender s = new Sender(link);
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
      counterpartRunning = Set.of();
    }
    for (Map.Entry<String, PeerLink> e : messageOrigins.entrySet()) {
      if (e.getValue() == link) {
        messageOrigins.remove(e.getKey());
      }
    }
    for (Map.Entry<String, PeerLink> e : pendingMessageLinks.entrySet()) {
      if (e.getValue() == link && pendingMessageLinks.remove(e.getKey(), link)) {
        CompletableFuture<ObjectNode> p = pendingMessages.remove(e.getKey());
        if (p != null) {
          p.completeExceptionally(new TetherException(ErrorCode.NOT_REACHABLE, "the link to the paired device dropped before it"
              + " answered the message (it may or may not have reached the counterpart app); send it again once reachable"));
        }
      }
    }
    broadcastState();
  }

  @Override
  public void activePeerChanged(String oldPeer, String newPeer) {
    exec.execute(() -> {
      counterpartRunning = Set.of();
      counterpartInstalled = Set.of();
      counterpartComplications = Set.of();
      if (oldPeer != null) {
        ObjectNode inactive = Json.object();
        inactive.put("state", "INACTIVE");
        ObjectNode deactivated = Json.object();
        deactivated.put("state", "NOT_ACTIVATED");
        deactivated.put("deactivated", true);
        for (Map.Entry<String, List<ClientConnection>> e : sessions.entrySet()) {
          for (ClientConnection c : e.getValue()) {
            c.push("cx.state", inactive);
            c.push("cx.state", deactivated);
          }
          AppDelivery d = deliveries.get(e.getKey());
          if (d != null) {
            d.redelivered.addAll(d.inFlight);
            d.inFlight.clear();
            d.target = null;
          }
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
            deleteQuietly(Path.of(d[3]));
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
    List<ClientConnection> targets = sessions.getOrDefault(app, List.of());
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
      c.push("cx.finished", ev);
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
    return f.type().equals("file.chunk") ? fileReceiver(link).buffer(f.body(), length) : new byte[length];
  }

  @Override
  public void frame(PeerLink link, Frame f, byte[] attachment) throws Exception {
    switch (f.type()) {
      case "items" -> {
        for (JsonNode item : f.body().path("items")) {
          receiveItem(link, (ObjectNode) item);
        }
      }
      case "item" -> receiveItem(link, f.body());
      case "ack" -> peerAcked(link, f.body());
      case "low" -> receiveLow(link, f.body().path("low").asLong());
      case "items.refused" -> itemsRefusedByPeer(link, f.body());
      case "items.retry" -> {
        if (refusingPeers.remove(link.peer()) != null) {
          log.info("peer {} offers its user info again; storing it if space allows", link.peer());
        }
      }
      case "ctx" -> receiveContext(link, f.body());
      case "ctx.ack" -> contextAcked(f.body());
      case "apps" -> {
        if (links.counterpart().map(p -> p.fingerprint().equals(link.peer())).orElse(false)) {
          counterpartRunning = names(f.body().get("running"));
          counterpartInstalled = names(f.body().get("installed"));
          counterpartComplications = names(f.body().get("complications"));
          broadcastState();
        }
      }
      case "file.offer" -> fileReceiver(link).offer(link, f.body());
      case "file.chunk" -> fileReceiver(link).chunk(f.body(), attachment);
      case "file.end" -> fileReceiver(link).end(f.body());
      case "file.drop" -> fileReceiver(link).drop(f.text("id"));
      case "file.resume" -> {
        Sender s = senders.get(link.peer());
        if (s != null) {
          s.resumeAt(f.text("id"), f.body().path("offset").asLong());
        }
      }
      case "file.refused" -> {
        Sender s = senders.get(link.peer());
        if (s != null) {
          s.refused(f.text("id"), f.body());
        }
      }
      case "msg" -> exec.execute(() -> receiveMessage(link, f));
      case "msg.reply" -> {
        pendingMessageLinks.remove(f.text("mid"));
        CompletableFuture<ObjectNode> p = pendingMessages.remove(f.text("mid"));
        if (p != null) {
          if (f.body().hasNonNull("error")) {
            ErrorCode code = ErrorCode.valueOf(f.body().path("code").asText("MESSAGE_REPLY_FAILED"));
            p.completeExceptionally(new TetherException(code, f.text("error")));
          } else {
            p.complete(f.body());
          }
        }
      }
      default -> log.warn("unknown frame {} from peer {}", f.type(), link.peer());
    }
  }

  private void receiveItem(PeerLink link, ObjectNode item) {
    String app = item.path("app").asText();
    long seq = item.path("seq").asLong();
    TetherException refusing = refusingPeers.get(link.peer());
    if (refusing != null) {
      refuseToPeer(link, seq, app, refusing);
      return;
    }
    inboxWriter.add(new Incoming(seq, item.path("id").asText(), link.peer(), app, item.path("kind").asText(),
        Json.sourceText(item.get("payload")), null))
        .whenComplete((fresh, failure) -> {
          if (failure != null) {
            TetherException full = insufficientSpace(failure);
            if (full == null) {
              log.error("storing an item from {} failed; closing the link so it is resent", link.peer(), failure);
              link.close();
              return;
            }
            TetherException refusal = new TetherException(ErrorCode.INSUFFICIENT_SPACE, "the paired device cannot store "
                + "user info now: " + full.getMessage() + ". The transfers stay queued on this device, in order, and are "
                + "offered again (after 1, 2, 4, then every 5 seconds)");
            if (refusingPeers.put(link.peer(), refusal) == null) {
              log.warn("refusing user info from peer {} for now: {}", link.peer(), full.getMessage());
            }
            refuseToPeer(link, seq, app, refusal);
            return;
          }
          if (fresh == null) {
            refuseToPeer(link, seq, app, refusingPeers.getOrDefault(link.peer(),
                new TetherException(ErrorCode.INSUFFICIENT_SPACE, "the paired device cannot store user info now")));
            return;
          }
          ackToPeer(link, seq);
          if (fresh) {
            arrivedAfterCommit(app);
          }
        });
  }

  private static Set<String> names(JsonNode a) {
    Set<String> s = new LinkedHashSet<>();
    if (a != null) {
      a.forEach(n -> s.add(n.asText()));
    }
    return Set.copyOf(s);
  }

  /**
   * Peers whose user info this device refused for lack of space, with the reason. Later items from such a peer are
   * refused too, also those already queued for the store ({@link #insertIncoming}), so that none is stored ahead of
   * one refused; the sender offers them again in order after {@code items.retry}.
   */
  private final Map<String, TetherException> refusingPeers = new ConcurrentHashMap<>();
  /** Refused items to report to the peer, gathered per link like acknowledgements: sequence numbers and apps. */
  private final Map<PeerLink, Map<Long, String>> pendingRefusals = new ConcurrentHashMap<>();

  private static TetherException insufficientSpace(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof TetherException te && te.code() == ErrorCode.INSUFFICIENT_SPACE) {
        return te;
      }
    }
    return null;
  }

  private void refuseToPeer(PeerLink link, long seq, String app, TetherException refusal) {
    Map<Long, String> refused = pendingRefusals.computeIfAbsent(link, k -> new LinkedHashMap<>());
    boolean first;
    synchronized (refused) {
      first = refused.isEmpty();
      refused.put(seq, app);
    }
    if (first) {
      exec.execute(() -> {
        ObjectNode b = Json.object();
        ArrayNode seqs = b.putArray("seqs");
        Set<String> apps = new LinkedHashSet<>();
        synchronized (refused) {
          refused.forEach((s, a) -> {
            seqs.add(s);
            apps.add(a);
          });
          refused.clear();
        }
        apps.forEach(b.putArray("apps")::add);
        b.put("code", refusal.code().name());
        b.put("error", refusal.getMessage());
        link.send("items.refused", b);
      });
    }
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
          for (ClientConnection c : sessions.getOrDefault(app, List.of())) {
            c.push("cx.blocked", ev);
          }
        });
      }
    }
  }

  /** Acknowledgements to the peer, gathered per link so one frame carries many sequence numbers. */
  private final Map<PeerLink, List<Long>> pendingAcks = new ConcurrentHashMap<>();

  private void ackToPeer(PeerLink link, long seq) {
    List<Long> list = pendingAcks.computeIfAbsent(link, k -> new ArrayList<>());
    boolean first;
    synchronized (list) {
      first = list.isEmpty();
      list.add(seq);
    }
    if (first) {
      exec.execute(() -> {
        ArrayNode a = Json.array();
        synchronized (list) {
          list.forEach(a::add);
          list.clear();
        }
        ObjectNode b = Json.object();
        b.set("seqs", a);
        link.send("ack", b);
      });
    }
  }

  private List<Boolean> insertIncoming(Connection conn, List<Incoming> items) throws SQLException {
    List<Boolean> fresh = new ArrayList<>(items.size());
    long now = System.currentTimeMillis();
    try (PreparedStatement seen = conn.prepareStatement("INSERT OR IGNORE INTO cx_seen(id, peer, peer_seq) VALUES (?, ?, ?)");
         PreparedStatement ins = conn.prepareStatement("INSERT INTO cx_inbox(id, peer, app, kind, payload, file, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
      for (Incoming i : items) {
        if (i.kind().equals(FORGET_SEEN)) {
          try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_seen WHERE peer = ? AND peer_seq < ?")) {
            del.setString(1, i.peer());
            del.setLong(2, i.peerSeq());
            int n = del.executeUpdate();
            if (n > 0) {
              log.debug("forgot {} ids seen from peer {} below its sequence number {}", n, i.peer(), i.peerSeq());
            }
          }
          fresh.add(false);
          continue;
        }
        if (!i.kind().equals("file") && refusingPeers.containsKey(i.peer())) {
          fresh.add(null);
          continue;
        }
        seen.setString(1, i.id());
        seen.setString(2, i.peer());
        seen.setLong(3, i.peerSeq());
        if (seen.executeUpdate() == 0) {
          fresh.add(false);
          continue;
        }
        ins.setString(1, i.id());
        ins.setString(2, i.peer());
        ins.setString(3, i.app());
        ins.setString(4, i.kind());
        ins.setString(5, i.payload());
        ins.setString(6, i.file());
        ins.setLong(7, now);
        ins.executeUpdate();
        fresh.add(true);
      }
    }
    return fresh;
  }

  private final Set<String> arrivedApps = ConcurrentHashMap.newKeySet();

  /** New inbox rows for {@code app} were committed; coalesced so a burst makes one pass. */
  private void arrivedAfterCommit(String app) {
    if (arrivedApps.add(app)) {
      exec.execute(() -> {
        arrivedApps.remove(app);
        arrived(app);
      });
    }
  }

  /** Runs on exec once new inbox rows for {@code app} are committed: deliver, or wake the app. */
  private void arrived(String app) {
    if (current(app) == null) {
      wake(app, "data from the paired device");
    } else {
      pump(app);
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

  /** The kind of an {@link Incoming} that is not an item: forget the ids seen from its peer below its sequence number. */
  private static final String FORGET_SEEN = "forget-seen";
  /** How often at most this device tells a peer how far its outbox for that peer is acknowledged. */
  private static final long LOW_EVERY_MILLIS = Long.getLong("tether.cx.lowEveryMillis", 5_000);
  /** When each peer was last told ({@link #announceLow}). */
  private final Map<String, Long> lowAnnounced = new ConcurrentHashMap<>();
  /** The last {@code low} sent on each link, and the links with an announcement scheduled. */
  private final Map<PeerLink, Long> lowSent = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());
  private final Set<PeerLink> lowLater = ConcurrentHashMap.newKeySet();
  /** The last {@code low} each peer told this device ({@link #receiveLow}). */
  private final Map<String, Long> lowReceived = new ConcurrentHashMap<>();

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
      link.send("low", b);
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

  /**
   * The peer's outbox holds nothing below {@code low}. The ids seen from it below the bound it sent the time before
   * are forgotten, in order with the items still being stored (through the inbox writer): a copy of an item that
   * was resent before it was acknowledged, and is still on its way, meets its id. Waiting one announcement (seconds)
   * covers a copy still coming over an older link.
   */
  private void receiveLow(PeerLink link, long low) {
    Long before = lowReceived.put(link.peer(), low);
    if (before != null && before > 1 && before <= low) {
      inboxWriter.add(new Incoming(before, null, link.peer(), null, FORGET_SEEN, null, null));
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
            deleteQuietly(Path.of(d[3]));
          }
          ObjectNode ev = Json.object();
          ev.put("id", d[1]);
          ev.put("kind", d[2].equals("file") ? "file" : "userInfo");
          for (ClientConnection c : sessions.getOrDefault(d[0], List.of())) {
            c.push("cx.finished", ev);
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
      link.send("ctx.ack", ack);
      if (fresh) {
        exec.execute(() -> {
          AppDelivery d = deliveries.get(app);
          if (d != null) {
            // a context replaced by a newer one must not hold the window
            d.inFlight.removeIf(seq -> !exists(seq));
          }
          arrived(app);
        });
      }
    });
  }

  private boolean exists(long seq) {
    return store.exists("SELECT 1 FROM cx_inbox WHERE seq = ?", seq);
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

  /**
   * Sends one link's share of the outbox: complication user info first, then user info in order, then the newest
   * unsent application context per app; and, on a thread of its own, files one after another.
   */
  private final class Sender {
    final PeerLink link;
    final Object lock = new Object();
    final Object fileLock = new Object();
    boolean fileWoken = true;
    final Set<Long> inFlight = new HashSet<>();
    long cursor;
    long complicationCursor;
    boolean woken = true;
    volatile boolean stopped;
    final Map<String, CompletableFuture<Long>> resumes = new ConcurrentHashMap<>();
    final Map<Long, CompletableFuture<Void>> fileAcks = new ConcurrentHashMap<>();
    final Map<String, ObjectNode> refusals = new ConcurrentHashMap<>();
    int refusedInARow;
    /** User info refused by the receiver for now (guarded by lock): no items before then, resent from the refused. */
    long itemsPausedUntil;
    boolean retryItems;
    int itemRefusalsInARow;
    /** Counts the times a refusal moved the cursors back, so that a page being sent does not move them forward again. */
    int rewinds;

    Sender(PeerLink link) {
      this.link = link;
    }

    void start() {
      Thread t = new Thread(this::run, "tether-cx-send-" + link.peer().substring(0, 8));
      t.setDaemon(true);
      t.start();
      Thread f = new Thread(this::runFiles, "tether-cx-files-" + link.peer().substring(0, 8));
      f.setDaemon(true);
      f.start();
    }

    void stop() {
      stopped = true;
      resumes.values().forEach(x -> x.cancel(false));
      fileAcks.values().forEach(x -> x.cancel(false));
      wake();
      wakeFiles();
    }

    void wakeFiles() {
      synchronized (fileLock) {
        fileWoken = true;
        fileLock.notifyAll();
      }
    }

    void wake() {
      synchronized (lock) {
        woken = true;
        lock.notifyAll();
      }
    }

    void acked(List<Long> seqs) {
      synchronized (lock) {
        seqs.forEach(inFlight::remove);
        if (!retryItems) {
          itemRefusalsInARow = 0;
        }
        lock.notifyAll();
      }
      for (long seq : seqs) {
        CompletableFuture<Void> f = fileAcks.remove(seq);
        if (f != null) {
          f.complete(null);
        }
      }
    }

    /**
     * The receiver could not store these user info items (nor will it store later ones until {@code items.retry}):
     * pause, then offer them again from the lowest refused, after 1, 2, 4, then every 5 seconds.
     */
    void itemsRefused(List<Long> seqs) {
      synchronized (lock) {
        seqs.forEach(inFlight::remove);
        long from = java.util.Collections.min(seqs) - 1;
        cursor = Math.min(cursor, from);
        complicationCursor = Math.min(complicationCursor, from);
        rewinds++;
        if (!retryItems) {
          itemRefusalsInARow++;
          long delay = Math.min(5000L, 1000L << Math.min(itemRefusalsInARow - 1, 3));
          itemsPausedUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay);
          retryItems = true;
        }
        woken = true;
        lock.notifyAll();
      }
    }

    /** The receiver cannot store file {@code id} now; the file stays queued and is offered again later. */
    void refused(String id, ObjectNode body) {
      refusals.put(id, body);
      CompletableFuture<Long> f = resumes.remove(id);
      if (f != null) {
        f.complete(-1L);
      }
    }

    void resumeAt(String id, long offset) {
      CompletableFuture<Long> f = resumes.remove(id);
      if (f != null) {
        f.complete(offset);
      }
    }

    private void run() {
      try {
        while (!stopped && link.isOpen()) {
          boolean retry;
          synchronized (lock) {
            while (!stopped) {
              long pause = retryItems ? itemsPausedUntil - System.nanoTime() : 0;
              if (pause > 0) {
                lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(pause)));
              } else if (retryItems && !inFlight.isEmpty()) {
                // every item sent before is answered (stored or refused) before any is offered again: a late
                // refusal then cannot leave a gap that later items are stored across
                lock.wait(1000);
              } else if (!retryItems && (!woken || inFlight.size() >= PEER_WINDOW)) {
                lock.wait(1000);
              } else {
                break;
              }
            }
            woken = false;
            retry = retryItems;
            retryItems = false;
          }
          if (stopped || !link.isOpen()) {
            return;
          }
          if (retry) {
            // ahead of the items on the same stream: the receiver stores user info again from here on
            link.send("items.retry", Json.object());
          }
          boolean more = sendBatch(true) | sendBatch(false);
          sendContexts();
          if (more) {
            wake();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        log.error("sending to peer {} failed; closing the link", link.peer(), e);
        link.close();
      }
    }

    /** Sends the next page of one queue; true if the page was full. */
    private boolean sendBatch(boolean complications) {
      int room;
      int rewound;
      long from;
      synchronized (lock) {
        room = PEER_WINDOW - inFlight.size();
        rewound = rewinds;
        from = complications ? complicationCursor : cursor;
      }
      if (room <= 0) {
        return false;
      }
      int limit = Math.min(room, 2000);
      List<ObjectNode> rows = store.read(conn -> {
        List<ObjectNode> list = new ArrayList<>();
        try (PreparedStatement s = conn.prepareStatement("SELECT seq, id, app, kind, payload FROM cx_outbox WHERE peer = ? AND seq > ? AND "
            + (complications ? "kind = 'complication'" : "kind IN ('userinfo', 'complication')") + " ORDER BY seq LIMIT ?")) {
          s.setString(1, link.peer());
          s.setLong(2, from);
          s.setInt(3, limit);
          try (ResultSet rs = s.executeQuery()) {
            while (rs.next()) {
              ObjectNode o = Json.object();
              o.put("seq", rs.getLong(1));
              o.put("id", rs.getString(2));
              o.put("app", rs.getString(3));
              o.put("kind", rs.getString(4));
              String text = rs.getString(5);
              o.set("payload", Json.raw(text));
              o.put("size", text.length() + 200);
              list.add(o);
            }
          }
        }
        return list;
      });
      ArrayNode batch = Json.array();
      int bytes = 0;
      for (ObjectNode o : rows) {
        long seq = o.path("seq").asLong();
        synchronized (lock) {
          if (rewinds != rewound) {
            // a refusal moved the cursor back meanwhile: the rest is read again from there
            break;
          }
          if (complications) {
            complicationCursor = seq;
          } else {
            cursor = seq;
          }
          if (!inFlight.add(seq)) {
            continue;
          }
        }
        int size = o.path("size").asInt();
        o.remove("size");
        if (!batch.isEmpty() && (batch.size() == 256 || bytes + size > BATCH_BYTES)) {
          sendItems(batch);
          batch = Json.array();
          bytes = 0;
        }
        batch.add(o);
        bytes += size;
      }
      if (!batch.isEmpty()) {
        sendItems(batch);
      }
      return rows.size() == limit;
    }

    private void sendItems(ArrayNode batch) {
      ObjectNode f = Json.object();
      f.set("items", batch);
      link.send("items", f);
    }

    private void sendContexts() {
      List<ObjectNode> ctxs = store.read(conn -> {
        List<ObjectNode> list = new ArrayList<>();
        try (PreparedStatement s = conn.prepareStatement("SELECT app, id, version, payload FROM cx_context_out WHERE peer = ? AND sent = 0")) {
          s.setString(1, link.peer());
          try (ResultSet rs = s.executeQuery()) {
            while (rs.next()) {
              ObjectNode o = Json.object();
              o.put("app", rs.getString(1));
              o.put("id", rs.getString(2));
              o.put("version", rs.getLong(3));
              o.set("payload", Json.parse(rs.getString(4)));
              list.add(o);
            }
          }
        }
        return list;
      });
      Map<String, String> sent = sentContexts;
      for (ObjectNode o : ctxs) {
        String key = o.path("app").asText();
        if (o.path("id").asText().equals(sent.get(key))) {
          continue;
        }
        sent.put(key, o.path("id").asText());
        link.send("ctx", o);
      }
    }

    final Map<String, String> sentContexts = new ConcurrentHashMap<>();

    private void runFiles() {
      try {
        long fileCursor = 0;
        while (!stopped && link.isOpen()) {
          synchronized (fileLock) {
            fileWoken = false;
          }
          long after = fileCursor;
          ObjectNode next = store.read(conn -> {
            try (PreparedStatement s = conn.prepareStatement("SELECT seq, id, app, payload, file, size, sha256 FROM cx_outbox "
                + "WHERE peer = ? AND kind = 'file' AND seq > ? ORDER BY seq LIMIT 1")) {
              s.setString(1, link.peer());
              s.setLong(2, after);
              try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                  return null;
                }
                ObjectNode o = Json.object();
                o.put("seq", rs.getLong(1));
                o.put("id", rs.getString(2));
                o.put("app", rs.getString(3));
                o.set("meta", Json.parse(rs.getString(4)));
                o.put("file", rs.getString(5));
                o.put("size", rs.getLong(6));
                o.put("sha256", rs.getString(7));
                return o;
              }
            }
          });
          if (next == null) {
            synchronized (fileLock) {
              while (!fileWoken && !stopped) {
                fileLock.wait(5000);
              }
              fileWoken = false;
            }
            continue;
          }
          long before = fileCursor;
          fileCursor = next.path("seq").asLong();
          if (!sendFile(next)) {
            fileCursor = before;
            waitBeforeRetry();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (java.util.concurrent.CancellationException e) {
        // link closed while waiting
      } catch (Exception e) {
        if (link.isOpen()) {
          log.warn("sending a file to {} failed: {}", link.peer(), e.toString());
          link.close();
        }
      }
    }

    /** Backs off after a refusal: 1, 2, 4 then every 5 seconds, or until the link stops. */
    private void waitBeforeRetry() throws InterruptedException {
      long delay = Math.min(5000L, 1000L << Math.min(refusedInARow - 1, 3));
      long until = System.nanoTime() + delay * 1_000_000L;
      synchronized (fileLock) {
        for (long left = delay; left > 0 && !stopped && link.isOpen(); left = (until - System.nanoTime()) / 1_000_000L) {
          fileLock.wait(left);
        }
      }
    }

    /** Tells the sending app that file {@code id} is held back (not failed: it stays queued and is retried). */
    private void reportRefusal(String app, String id) {
      ObjectNode r = refusals.remove(id);
      if (r == null) {
        return;
      }
      refusedInARow++;
      ObjectNode ev = Json.object();
      ev.put("id", id);
      ev.put("kind", "file");
      ev.put("code", r.path("code").asText(ErrorCode.INSUFFICIENT_SPACE.name()));
      ev.put("error", r.path("error").asText("the paired device cannot store the file now"));
      ObjectNode previous = blockedFiles.put(id, ev);
      if (previous == null || !previous.path("error").asText().equals(ev.path("error").asText())) {
        log.warn("the paired device {} refused file {} for now, keeping it queued: {}", link.peer(), id, ev.path("error").asText());
      }
      for (ClientConnection c : sessions.getOrDefault(app, List.of())) {
        c.push("cx.blocked", ev);
      }
    }

    /** Sends one file; false if the receiver refused it for now (it stays queued). */
    private boolean sendFile(ObjectNode f) throws Exception {
      String id = f.path("id").asText();
      long seq = f.path("seq").asLong();
      long size = f.path("size").asLong();
      String app = f.path("app").asText();
      CompletableFuture<Long> resume = new CompletableFuture<>();
      resumes.put(id, resume);
      CompletableFuture<Void> acked = new CompletableFuture<>();
      fileAcks.put(seq, acked);
      ObjectNode offer = Json.object();
      offer.put("seq", seq);
      offer.put("id", id);
      offer.put("app", app);
      offer.put("size", size);
      offer.set("meta", f.get("meta"));
      link.send("file.offer", offer);
      Object first = CompletableFuture.anyOf(resume, acked).get();
      if (acked.isDone()) {
        refusedInARow = 0;
        blockedFiles.remove(id);
        return true;
      }
      long offset = (Long) first;
      if (offset < 0) {
        reportRefusal(app, id);
        return false;
      }
      Path file = Path.of(f.path("file").asText());
      String sha;
      try {
        sha = OutgoingFile.send(link, file, captures.get(id), id, offset, size, CHUNK,
            () -> stopped || !link.isOpen() || refusals.containsKey(id) || cancelledFiles.contains(id),
            sent -> progress(app, id, sent, size));
      } catch (NoSuchFileException e) {
        log.info("file transfer {} was cancelled while sending", id);
        return true;
      }
      if (sha == null) {
        if (cancelledFiles.remove(id)) {
          log.info("file transfer {} was cancelled while sending; stopped", id);
          return true;
        }
        if (refusals.containsKey(id)) {
          reportRefusal(app, id);
          return false;
        }
        return true;
      }
      ObjectNode end = Json.object();
      end.put("id", id);
      end.put("sha256", sha);
      link.send("file.end", end);
      while (!acked.isDone()) {
        if (cancelledFiles.remove(id)) {
          return true; // the receiver drops it (file.drop); its row is gone
        }
        if (refusals.containsKey(id)) {
          reportRefusal(app, id);
          return false;
        }
        try {
          acked.get(200, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
          // look for a refusal again
        }
      }
      acked.get();
      refusedInARow = 0;
      blockedFiles.remove(id);
      return true;
    }
  }

  private void progress(String app, String id, long sent, long total) {
    ObjectNode p = Json.object();
    p.put("id", id);
    p.put("sent", sent);
    p.put("total", total);
    for (ClientConnection c : sessions.getOrDefault(app, List.of())) {
      c.push("cx.progress", p);
    }
  }

  private FileReceiver fileReceiver(PeerLink link) {
    return fileReceivers.computeIfAbsent(link.peer(), k -> new FileReceiver());
  }

  /** Room left free on the receiver's disk beyond an incoming file, for the store and logs. */
  private static final long SPACE_RESERVE = 4L * 1024 * 1024;

  static boolean diskFull(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && (m.contains("No space left") || m.contains("SQLITE_FULL") || m.contains("database or disk is full"))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Receives files from one peer into {@code in/ID.part}, resuming from what is on disk, checked by SHA-256. The link's
   * thread checks each chunk and hands it to the attempt's {@link IncomingFile}, which writes and hashes on lanes of
   * its own.
   */
  private final class FileReceiver {
    private String id;
    private long seq;
    private String app;
    private long size;
    private String sha;
    private ObjectNode meta;
    private IncomingFile file;
    private PeerLink link;

    synchronized void offer(PeerLink from, ObjectNode b) throws IOException {
      closeChannel();
      this.link = from;
      String offered = b.path("id").asText();
      boolean seen = store.read(conn -> {
        try (PreparedStatement s = conn.prepareStatement("SELECT 1 FROM cx_seen WHERE id = ?")) {
          s.setString(1, offered);
          try (ResultSet rs = s.executeQuery()) {
            return rs.next();
          }
        }
      });
      if (seen) {
        ackToPeerNow(b.path("seq").asLong());
        id = null;
        return;
      }
      id = offered;
      seq = b.path("seq").asLong();
      app = b.path("app").asText();
      size = b.path("size").asLong();
      sha = null;
      meta = (ObjectNode) b.get("meta");
      if (offered.isEmpty() || offered.contains("/") || offered.startsWith(".") || size < 0 || meta == null) {
        id = null;
        throw new TetherException(ErrorCode.CORRUPT_FRAME, "file offer " + b + " lacks a valid id, size or meta");
      }
      Path part = inDir.resolve(id + ".part");
      long stored = Files.exists(part) ? Math.min(Files.size(part), size) : 0;
      long usable = Files.getFileStore(inDir).getUsableSpace();
      if (usable < size - stored + SPACE_RESERVE) {
        refuse(String.format("the paired device has %d bytes free in %s but file %s needs %d more; free space there"
            + " (the transfer stays queued and is retried)", usable, inDir, id, size - stored + SPACE_RESERVE));
        return;
      }
      try {
        file = IncomingFile.open(id, part, size, CHUNK);
      } catch (IOException e) {
        if (diskFull(e)) {
          refuse("the paired device's disk holding " + inDir + " is full: " + e.getMessage()
              + "; free space there (the transfer stays queued and is retried)");
          return;
        }
        throw e;
      }
      if (file.accepted() > 0) {
        log.info("resuming file {} from {} peer at byte {} of {}", id, "the", file.accepted(), size);
      }
      ObjectNode r = Json.object();
      r.put("id", id);
      r.put("offset", file.accepted());
      if (link != null) {
        link.send("file.resume", r);
      }
    }

    /** A buffer for the chunk the link is about to read; not under the lock, since it may wait for a free one. */
    byte[] buffer(ObjectNode b, int length) throws InterruptedException {
      IncomingFile f;
      synchronized (this) {
        f = file;
      }
      return f != null && f.id().equals(b.path("id").asText()) ? f.buffer(length) : new byte[length];
    }

    /** The sender's SHA-256 of the whole file, after its last chunk. */
    synchronized void end(ObjectNode b) throws Exception {
      if (id == null || file == null || !id.equals(b.path("id").asText())) {
        return;
      }
      if (file.accepted() != size) {
        throw new IOException("file " + id + " ended at " + file.accepted() + " of " + size + " bytes; restarting the link");
      }
      sha = b.path("sha256").asText();
      finish();
    }

    synchronized void chunk(ObjectNode b, byte[] data) throws Exception {
      if (id == null || file == null || !id.equals(b.path("id").asText())) {
        return;
      }
      JsonNode offset = b.get("offset");
      if (data == null || offset == null || !offset.canConvertToLong()) {
        throw new TetherException(ErrorCode.CORRUPT_FRAME, "file chunk for " + id + " without an offset or without data");
      }
      Exception failed = file.writeFailure();
      if (failed != null) {
        writeFailed(failed);
        return;
      }
      file.accept(offset.asLong(), data, b.path("attach").asInt());
    }

    /** The writer lane failed: a full disk holds the file back (resuming later from the stored bytes), else the link restarts. */
    private void writeFailed(Exception e) throws Exception {
      if (diskFull(e)) {
        long stored = file.stored();
        refuse("the paired device's disk holding " + inDir + " filled up at byte " + stored + " of " + size
            + " of file " + id + "; free space there (the transfer stays queued and resumes from there)");
        return;
      }
      throw e;
    }

    /** Refuses the current offer for now: the sender keeps the file queued, tells its app, and offers it again. */
    private void refuse(String message) {
      log.warn("refusing file {} from peer for now: {}", id, message);
      closeChannel();
      ObjectNode r = Json.object();
      r.put("id", id);
      r.put("code", ErrorCode.INSUFFICIENT_SPACE.name());
      r.put("error", message);
      id = null;
      if (link != null) {
        link.send("file.refused", r);
      }
    }

    private void finish() throws Exception {
      String got;
      try {
        got = file.finish();
      } catch (Exception e) {
        writeFailed(e);
        return;
      } finally {
        file = null;
      }
      Path part = inDir.resolve(id + ".part");
      if (!got.equals(sha)) {
        log.error("file {} arrived with SHA-256 {} but {} was sent; receiving it again", id, got, sha);
        Files.deleteIfExists(part);
        if (link != null) {
          link.close();
        }
        id = null;
        return;
      }
      Path dir = inDir.resolve(id);
      Files.createDirectories(dir);
      String name = meta.path("name").asText("file");
      if (name.contains("/") || name.equals("..") || name.isBlank()) {
        name = "file";
      }
      Path dest = dir.resolve(name);
      Files.move(part, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      syncDir(dir);
      syncDir(inDir);
      ObjectNode payload = Json.object();
      if (meta.has("metadata")) {
        payload.set("metadata", meta.get("metadata"));
      }
      payload.put("size", size);
      payload.put("sha256", sha);
      long s = seq;
      String fid = id;
      id = null;
      String fapp = app;
      PeerLink from = link;
      inboxWriter.add(new Incoming(s, fid, from.peer(), fapp, "file", payload.toString(), dest.toString()))
          .whenComplete((fresh, failure) -> {
            if (failure != null) {
              log.error("storing received file {} failed", fid, failure);
              from.close();
              return;
            }
            ackToPeer(from, s);
            if (fresh) {
              arrivedAfterCommit(fapp);
            }
          });
    }

    private void ackToPeerNow(long s) {
      if (link != null) {
        ackToPeer(link, s);
      }
    }

    /** The sender's app cancelled file {@code dropped}: what arrived of it here is of no use any more. */
    synchronized void drop(String dropped) {
      if (dropped == null || dropped.isEmpty() || dropped.contains("/") || dropped.startsWith(".")) {
        throw new TetherException(ErrorCode.CORRUPT_FRAME, "file drop without a valid id");
      }
      if (dropped.equals(id)) {
        closeChannel();
        id = null;
      }
      Path part = inDir.resolve(dropped + ".part");
      if (Files.exists(part)) {
        log.info("file {} was cancelled by its sender: dropping the {} bytes received", dropped, sizeOf(part));
        deleteQuietly(part);
      }
    }

    private void closeChannel() {
      if (file != null) {
        file.abandon();
        file = null;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------- app delivery

  private void pump(String app) {
    AppDelivery d = deliveries.get(app);
    if (d == null || d.target == null || !d.target.isOpen()) {
      return;
    }
    int room = APP_WINDOW - d.inFlight.size() - d.acking.size();
    if (room <= 0) {
      return;
    }
    long from = d.cursor;
    List<ObjectNode> rows = store.read(conn -> {
      List<ObjectNode> list = new ArrayList<>();
      try (PreparedStatement s = conn.prepareStatement("SELECT seq, id, kind, payload, file FROM cx_inbox WHERE app = ? AND seq > ? ORDER BY seq LIMIT ?")) {
        s.setString(1, app);
        s.setLong(2, from);
        s.setInt(3, room);
        try (ResultSet rs = s.executeQuery()) {
          while (rs.next()) {
            ObjectNode o = Json.object();
            o.put("seq", rs.getLong(1));
            o.put("id", rs.getString(2));
            String kind = rs.getString(3);
            o.put("size_", rs.getString(4).length() + 200);
            JsonNode raw = Json.raw(rs.getString(4));
            switch (kind) {
              case "complication" -> {
                o.put("kind", "userInfo");
                o.put("complication", true);
                o.set("payload", raw);
              }
              case "userinfo" -> {
                o.put("kind", "userInfo");
                o.set("payload", raw);
              }
              case "context" -> {
                o.put("kind", "applicationContext");
                o.set("payload", raw);
              }
              default -> {
                JsonNode payload = Json.parse(rs.getString(4));
                o.put("kind", "file");
                o.put("file", rs.getString(5));
                if (payload.has("metadata")) {
                  o.set("metadata", payload.get("metadata"));
                }
                o.put("size", payload.path("size").asLong());
                o.put("sha256", payload.path("sha256").asText());
              }
            }
            list.add(o);
          }
        }
      }
      return list;
    });
    ArrayNode batch = Json.array();
    int bytes = 0;
    for (ObjectNode o : rows) {
      long seq = o.path("seq").asLong();
      d.cursor = seq;
      if (d.acking.contains(seq) || !d.inFlight.add(seq)) {
        continue;
      }
      if (d.redelivered.contains(seq)) {
        o.put("redelivered", true);
      }
      int size = o.path("size_").asInt();
      o.remove("size_");
      if (!batch.isEmpty() && (batch.size() == 256 || bytes + size > BATCH_BYTES)) {
        pushDeliveries(d.target, batch);
        batch = Json.array();
        bytes = 0;
      }
      batch.add(o);
      bytes += size;
    }
    if (!batch.isEmpty()) {
      pushDeliveries(d.target, batch);
    }
  }

  private static void pushDeliveries(ClientConnection c, ArrayNode batch) {
    ObjectNode b = Json.object();
    b.set("items", batch);
    c.push("cx.deliveries", b);
  }

  private CompletableFuture<ObjectNode> appAck(ClientConnection c, ObjectNode b) {
    String app = c.appId();
    List<Long> seqs = new ArrayList<>();
    b.path("seqs").forEach(n -> seqs.add(n.asLong()));
    CompletableFuture<Void> marked = onExec(() -> {
      AppDelivery d = deliveries.get(app);
      if (d != null) {
        for (long s : seqs) {
          d.inFlight.remove(s);
          d.acking.add(s);
        }
      }
      return null;
    });
    long[] arr = seqs.stream().mapToLong(Long::longValue).toArray();
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    parts.add(marked.thenCompose(x -> ackDurably(new AppAck(app, arr))));
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenCompose(x -> onExec(() -> {
      AppDelivery d = deliveries.get(app);
      if (d != null) {
        for (long s : seqs) {
          d.acking.remove(s);
          d.redelivered.remove(s);
        }
      }
      pump(app);
      boolean pending = anyPending(app);
      if (!pending) {
        drained(app);
      }
      ObjectNode r = Json.object();
      r.put("pending", pending ? 1 : 0);
      return r;
    }));
  }

  /**
   * Records an app's acknowledgement. When the disk is full it is retried every second until it is recorded: the
   * deliveries stay marked as acknowledged meanwhile (never delivered again while this daemon runs), and the app's
   * request is answered once it is recorded.
   */
  private CompletableFuture<Void> ackDurably(AppAck ack) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    ackAttempt(ack, done, 0);
    return done;
  }

  private void ackAttempt(AppAck ack, CompletableFuture<Void> done, int attempt) {
    ackWriter.add(ack).whenComplete((r, failure) -> {
      if (failure == null) {
        if (attempt > 0) {
          log.info("recorded {}'s acknowledgement of {} deliveries after {} retries", ack.app(), ack.seqs().length, attempt);
        }
        done.complete(null);
      } else if (insufficientSpace(failure) != null && !exec.isShutdown()) {
        if (attempt == 0) {
          log.warn("cannot record {}'s acknowledgement of {} deliveries now ({}); retrying every second",
              ack.app(), ack.seqs().length, insufficientSpace(failure).getMessage());
        }
        CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS).execute(() -> ackAttempt(ack, done, attempt + 1));
      } else {
        done.completeExceptionally(failure);
      }
    });
  }

  private List<Void> deleteAcked(Connection conn, List<AppAck> acks) throws SQLException {
    List<String> files = new ArrayList<>();
    for (AppAck ack : acks) {
      for (int from = 0; from < ack.seqs().length; from += 500) {
        int to = Math.min(ack.seqs().length, from + 500);
        String marks = String.join(",", java.util.Collections.nCopies(to - from, "?"));
        try (PreparedStatement del = conn.prepareStatement("DELETE FROM cx_inbox WHERE app = ? AND seq IN (" + marks + ") RETURNING file")) {
          del.setString(1, ack.app());
          for (int i = from; i < to; i++) {
            del.setLong(i - from + 2, ack.seqs()[i]);
          }
          try (ResultSet rs = del.executeQuery()) {
            while (rs.next()) {
              if (rs.getString(1) != null) {
                files.add(rs.getString(1));
              }
            }
          }
        }
      }
    }
    if (!files.isEmpty()) {
      exec.execute(() -> {
        for (String f : files) {
          Path p = Path.of(f);
          deleteQuietly(p);
          deleteQuietly(p.getParent());
        }
      });
    }
    List<Void> r = new ArrayList<>(acks.size());
    for (int i = 0; i < acks.size(); i++) {
      r.add(null);
    }
    return r;
  }

  // ---------------------------------------------------------------------------------------------- messages

  private CompletableFuture<ObjectNode> sendMessage(ClientConnection c, ObjectNode b) {
    String app = c.appId();
    Peer cp = links.counterpart().orElseThrow(() -> new TetherException(ErrorCode.DEVICE_NOT_PAIRED,
        "this device is not paired; pair it with 'tether pair listen' and 'tether pair connect'"));
    PeerLink link = links.link(cp.fingerprint()).orElseThrow(() -> new TetherException(ErrorCode.NOT_REACHABLE,
        "the paired device is not connected"));
    boolean wakesCounterpart = cp.role().equals("primary");
    if (!wakesCounterpart && !counterpartRunning.contains(app)) {
      throw new TetherException(ErrorCode.NOT_REACHABLE, "the counterpart app " + app + " is not running on the paired device");
    }
    if (b.has("payload")) {
      checkedPayload(b, PropertyList.MAX_MESSAGE_BYTES, "message");
    } else if (b.path("data").asText("").length() > PropertyList.MAX_MESSAGE_BYTES * 4 / 3 + 4) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, "message data is larger than " + PropertyList.MAX_MESSAGE_BYTES + " bytes");
    }
    String mid = newId();
    ObjectNode m = b.deepCopy();
    m.put("mid", mid);
    m.put("app", app);
    long timeout = b.path("timeoutMillis").asLong(30_000);
    boolean replyExpected = b.path("replyExpected").asBoolean(true);
    CompletableFuture<ObjectNode> reply = new CompletableFuture<>();
    pendingMessages.put(mid, reply);
    pendingMessageLinks.put(mid, link);
    context.clock().schedule(context.clock().now().plusMillis(timeout), () -> {
      pendingMessageLinks.remove(mid);
      CompletableFuture<ObjectNode> p = pendingMessages.remove(mid);
      if (p != null) {
        p.completeExceptionally(replyExpected
            ? new TetherException(ErrorCode.MESSAGE_REPLY_TIMED_OUT, "no reply from the counterpart within " + timeout + " ms")
            : new TetherException(ErrorCode.TRANSFER_TIMED_OUT, "the counterpart app did not take the message within " + timeout
                + " ms (its delegate may be busy or stuck); it may still handle it"));
      }
    });
    link.send("msg", m);
    return reply.thenApply(r -> {
      ObjectNode o = Json.object();
      if (r.has("payload")) {
        o.set("payload", r.get("payload"));
      }
      if (r.has("data")) {
        o.set("data", r.get("data"));
      }
      return o;
    });
  }

  private void receiveMessage(PeerLink link, Frame f) {
    String app = f.text("app");
    messageOrigins.put(f.text("mid"), link);
    messageApps.put(f.text("mid"), app);
    if (current(app) != null) {
      deliverMessage(app, f);
      return;
    }
    if (links.localRole().equals("primary")) {
      heldMessages.compute(app, (k, list) -> {
        List<Frame> l = list == null ? new ArrayList<>() : list;
        l.add(f);
        return l;
      });
      wake(app, "a live message from the paired device");
      // an app tetherd will not launch gets no message: say why now rather than let the sender time out
      try {
        context.backgroundWork().launchRefusal(app).thenAccept(why -> why.ifPresent(w -> {
          if (unhold(app, f)) {
            replyError(f.text("mid"), ErrorCode.NOT_REACHABLE, "the app " + app + " is not running on the paired device and"
                + " will not be launched: " + w);
          }
        }));
      } catch (IllegalStateException e) {
        log.info("cannot ask whether {} may be launched: {}", app, e.getMessage());
      }
      // the sender gives up after its timeout: a message held longer would reach the app after its sender was told it failed
      long timeout = f.body().path("timeoutMillis").asLong(30_000);
      context.clock().schedule(context.clock().now().plusMillis(timeout), () -> unhold(app, f));
      return;
    }
    replyError(f.text("mid"), ErrorCode.NOT_REACHABLE, "the app " + app + " is not running on the paired device");
  }

  /** Removes a message held for an app that is not running; false when it was delivered (or dropped) already. */
  private boolean unhold(String app, Frame f) {
    boolean[] removed = {false};
    heldMessages.computeIfPresent(app, (k, list) -> {
      removed[0] = list.remove(f);
      return list.isEmpty() ? null : list;
    });
    return removed[0];
  }

  private void deliverMessage(String app, Frame f) {
    ClientConnection c = current(app);
    if (c == null) {
      replyError(f.text("mid"), ErrorCode.NOT_REACHABLE, "the app " + app + " is not running on the paired device");
      return;
    }
    ObjectNode m = Json.object();
    m.put("mid", f.text("mid"));
    if (f.body().has("payload")) {
      m.set("payload", f.body().get("payload"));
    }
    if (f.body().has("data")) {
      m.set("data", f.body().get("data"));
    }
    m.put("replyExpected", f.body().path("replyExpected").asBoolean());
    c.push("cx.message", m);
  }

  private void replyError(String mid, ErrorCode code, String message) {
    messageApps.remove(mid);
    PeerLink l = messageOrigins.remove(mid);
    if (l != null) {
      ObjectNode r = Json.object();
      r.put("mid", mid);
      r.put("error", message);
      r.put("code", code.name());
      l.send("msg.reply", r);
    }
  }

  private CompletableFuture<ObjectNode> replyFromApp(ClientConnection c, ObjectNode b) {
    String mid = b.path("mid").asText();
    if (!c.appId().equals(messageApps.get(mid))) {
      throw new TetherException(ErrorCode.MESSAGE_REPLY_FAILED, "no message " + mid + " is waiting for a reply from " + c.appId());
    }
    messageApps.remove(mid);
    if (b.hasNonNull("error")) {
      replyError(mid, ErrorCode.MESSAGE_REPLY_FAILED, b.path("error").asText());
      return CompletableFuture.completedFuture(Json.object());
    }
    PeerLink l = messageOrigins.remove(mid);
    if (l == null) {
      throw new TetherException(ErrorCode.MESSAGE_REPLY_FAILED, "the sender of message " + mid + " is no longer connected");
    }
    ObjectNode r = Json.object();
    r.put("mid", mid);
    if (b.has("payload")) {
      checkedPayload(b, PropertyList.MAX_MESSAGE_BYTES, "reply");
      r.set("payload", b.get("payload"));
    }
    if (b.has("data")) {
      r.set("data", b.get("data"));
    }
    l.send("msg.reply", r);
    return CompletableFuture.completedFuture(Json.object());
  }

  /** For tests and the CLI: the daemon's peer port. */
  public int peerPort() {
    return links.port();
  }
}
