package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.TetherPaths;
import dev.tether.protocol.Version;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Background URL sessions: sessions by identifier per app, download and upload transfers that outlive the app and
 * the daemon, and the per-session event queue (stored, delivered in order, acknowledged after the delegate returned).
 *
 * <p>Every state change of a transfer and the events it causes commit in one transaction (an outbox); delivery reads
 * the committed events and pushes them to every connection of the app that has the session open. Progress is live
 * only: pushed at most every {@value #PROGRESS_INTERVAL_MS} ms per transfer to open sessions and never stored.
 */
public final class TransferService implements DaemonService {
  /**
   * Test-kit injection ({@code DaemonOptions.extra}): a {@code java.util.function.LongConsumer} told each finished
   * download's id after its file is in place and before its completion is recorded (it may block, to hold a transfer
   * in that instant).
   */
  public static final String BEFORE_RECORDING_FINISHED = "transfer.beforeRecordingFinished";
  private static final Logger log = LoggerFactory.getLogger(TransferService.class);
  /** The CLI acts for the user: it may list and cancel every app's transfers and set conditions. */
  static final String CLI_APP_ID = "dev.tether.cli";
  static final long PROGRESS_INTERVAL_MS = 250;
  private static final long SMALL_BODY = 4L << 20;
  /**
   * Test-only JVM system property of tetherd: comma-separated host names (as written in URLs) that tetherd treats as
   * remote hosts, which need a network, although they resolve to loopback. End-to-end tests use it to exercise "no
   * network" against a loopback test server; it has no other use.
   */
  static final String REMOTE_HOSTS_PROPERTY = "tetherd.testing.remoteHosts";
  /** How often whether the device is online is checked again while a transfer waits for, or runs over, a network. */
  private static final Duration NETWORK_RECHECK = Duration.ofSeconds(5);
  /**
   * A connection failure this recent when the device is seen offline is taken for the network going away (which the
   * check every {@link #NETWORK_RECHECK} may notice that late) rather than as a failed attempt.
   */
  static final Duration OFFLINE_GRACE = NETWORK_RECHECK.multipliedBy(2);
  private static final Duration RESUME_FILE_TTL = Duration.ofDays(7);
  /** Completed transfers whose events were all acknowledged stay listed this long, then are forgotten. */
  static final Duration COMPLETED_TTL = Duration.ofHours(24);
  private volatile long lastPrune;

  record SessionKey(String app, String id) {}

  private static final class Opener {
    final ClientConnection conn;
    /** It asked for {@code transfer.events} frames (many events each) rather than one {@code transfer.event} each. */
    final boolean batches;
    long lastPushed;

    Opener(ClientConnection conn, boolean batches) {
      this.conn = conn;
      this.batches = batches;
    }
  }

  private static final class Running {
    final HttpAttempt attempt;
    final TransferRow row;
    final CompletableFuture<Void> done = new CompletableFuture<>();
    volatile long bytes = -1;
    final long startedAt = System.nanoTime() / 1_000_000;
    volatile long lastProgressAt;
    final java.util.concurrent.atomic.AtomicBoolean progressPending = new java.util.concurrent.atomic.AtomicBoolean();

    Running(HttpAttempt attempt, TransferRow row) {
      this.attempt = attempt;
      this.row = row;
    }
  }

  private static final class Slot {
    int active;
    final Deque<Long> waiting = new ArrayDeque<>();
  }

  private DaemonContext ctx;
  private Store store;
  private TetherClock clock;
  private Path dir;
  private CloseableHttpClient http;
  private ExecutorService workers;
  private ExecutorService events;
  private ExecutorService control;
  private ExecutorService flusher;
  private java.util.concurrent.ScheduledExecutorService progressTimer;
  private final Conditions conditions = new Conditions(Path.of("/sys/class/power_supply"), Path.of("/proc/net"),
      Path.of("/sys/class/net"));
  /** Test-only: host names tetherd treats as needing a network although they are loopback (see {@link #REMOTE_HOSTS_PROPERTY}). */
  private final Set<String> treatedAsRemote = remoteHosts(System.getProperty(REMOTE_HOSTS_PROPERTY, ""));
  /** Which hosts are this machine (transfers to them need no network); set up in {@link #start}. */
  private LocalHosts localHosts;
  /** Recent connection failures counted as failed attempts, per transfer, oldest first (see {@link #OFFLINE_GRACE}). */
  private final Map<Long, Deque<CountedFailure>> recentFailures = new ConcurrentHashMap<>();

  /** A failed attempt counted at {@code atNanos}, and the transfer's count of failed attempts before it. */
  private record CountedFailure(long atNanos, int attemptsBefore) {}
  /** Transfers to non-loopback hosts that wait because the device has no network. */
  private final Set<Long> waitingNetwork = ConcurrentHashMap.newKeySet();
  /** Set while a network re-check timer is armed. */
  private final java.util.concurrent.atomic.AtomicBoolean networkWatch = new java.util.concurrent.atomic.AtomicBoolean();
  private final StatementCache statements = new StatementCache();
  private final Map<Long, Running> running = new ConcurrentHashMap<>();
  private final Map<Long, TetherClock.Timer> timers = new ConcurrentHashMap<>();
  private final Set<Long> queued = ConcurrentHashMap.newKeySet();
  private final Set<Long> waitingConditions = ConcurrentHashMap.newKeySet();
  private final Map<String, Slot> slots = new HashMap<>();
  private final Map<SessionKey, Map<Long, Opener>> openers = new ConcurrentHashMap<>();
  private final Map<SessionKey, SessionConfig> configs = new ConcurrentHashMap<>();
  /** Downloads whose body is complete and that wait for the finisher (sync, move, commit). */
  private final Set<Long> finalizing = ConcurrentHashMap.newKeySet();
  private final Set<SessionKey> pumpsPending = ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.BlockingQueue<Finished> finishing = new java.util.concurrent.LinkedBlockingQueue<>();
  private ExecutorService syncPool;
  private Thread finisher;

  /** A download whose body is in its part file, handed to the finisher. */
  private record Finished(TransferRow row, Path part, int status, long bytes) {}
  private volatile boolean closed;
  private java.util.function.LongConsumer beforeRecordingFinished = id -> { };

  @Override
  public List<Migration> migrations() {
    return TransferSchema.migrations();
  }

  @Override
  public void start(DaemonContext context) throws Exception {
    this.ctx = context;
    this.store = context.store();
    this.clock = context.clock();
    this.dir = TetherPaths.dataDir(context.home()).resolve("transfers");
    java.util.function.LongConsumer hook = context.options().extra(BEFORE_RECORDING_FINISHED, java.util.function.LongConsumer.class);
    if (hook != null) {
      beforeRecordingFinished = hook;
    }
    Files.createDirectories(dir);
    workers = Executors.newCachedThreadPool(named("tether-transfer"));
    events = Executors.newSingleThreadExecutor(named("tether-transfer-events"));
    control = Executors.newFixedThreadPool(2, named("tether-transfer-ctl"));
    flusher = Executors.newSingleThreadExecutor(named("tether-transfer-flush"));
    progressTimer = Executors.newSingleThreadScheduledExecutor(named("tether-transfer-progress"));
    syncPool = Executors.newFixedThreadPool(8, named("tether-transfer-sync"));
    localHosts = new LocalHosts(java.net.InetAddress::getAllByName, host -> {
      try {
        control.execute(this::recheckWaitingForNetwork); // a name found to be this machine needs no network
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // the daemon is stopping
      }
    });
    finisher = new Thread(this::finishLoop, "tether-transfer-finisher");
    finisher.setDaemon(true);
    finisher.start();
    // strict response parsing: a server answering garbage is a BAD_SERVER_RESPONSE, not silence to retry
    org.apache.hc.core5.http.config.Http1Config h1 = org.apache.hc.core5.http.config.Http1Config.custom().setBufferSize(64 * 1024).build();
    var connections = org.apache.hc.client5.http.impl.io.ManagedHttpClientConnectionFactory.builder().http1Config(h1)
        .responseParserFactory(new org.apache.hc.core5.http.impl.io.DefaultHttpResponseParserFactory(h1)).build();
    PoolingHttpClientConnectionManager cm = PoolingHttpClientConnectionManagerBuilder.create().setConnectionFactory(connections)
        .setMaxConnTotal(256).setMaxConnPerRoute(64).setDnsResolver(LocalHosts.RESOLVER)
        .setDefaultSocketConfig(SocketConfig.custom().setTcpNoDelay(true).setRcvBufSize(4 << 20).build())
        .setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(Timeout.ofSeconds(30))
            .setSocketTimeout(Timeout.ofSeconds(60)).setValidateAfterInactivity(TimeValue.ofSeconds(2)).build())
        .build();
    http = HttpClients.custom().setConnectionManager(cm).disableRedirectHandling().disableAutomaticRetries()
        .disableContentCompression().disableCookieManagement().disableAuthCaching()
        .setUserAgent("tetherd/" + Version.get()).build();
    loadConditions();
    registerHandlers();
    context.ipc().addListener(new ConnectionListener() {
      @Override
      public void closed(ClientConnection connection) {
        for (Map<Long, Opener> m : openers.values()) {
          m.remove(connection.id());
        }
      }
    });
    try {
      context.backgroundWork().onForceQuit(app -> control.execute(() -> forceQuit(app)));
    } catch (IllegalStateException e) {
      log.info("no task service in this daemon; force-quit will not cancel transfers ({})", e.getMessage());
    }
    removeStaleFiles();
    List<Long> unfinished = store.read(c -> ids(c, "SELECT id FROM transfers WHERE state = 'RUNNING' ORDER BY id"));
    log.info("transfers: resuming {} unfinished transfer(s)", unfinished.size());
    for (long id : unfinished) {
      schedule(id);
    }
    for (SessionKey k : store.read(c -> sessionsWithEvents(c))) {
      maybeWake(k, "undelivered transfer events");
    }
    conditionsTick();
    scheduleConditionsTick();
  }

  private static java.util.concurrent.ThreadFactory named(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  // ---------------------------------------------------------------------------------------------------- handlers

  private void registerHandlers() {
    var ipc = ctx.ipc();
    ipc.register("transfer.session.open", this::openSession);
    ipc.register("transfer.session.close", this::closeSession);
    ipc.register("transfer.download", (c, b) -> create(c, b, "download"));
    ipc.register("transfer.upload", (c, b) -> create(c, b, "upload"));
    ipc.register("transfer.list", this::list);
    ipc.register("transfer.get", (c, b) -> CompletableFuture.completedFuture(snapshot(requireTransfer(c, b))));
    ipc.register("transfer.suspend", this::suspend);
    ipc.register("transfer.resume", this::resume);
    ipc.register("transfer.cancel", this::cancel);
    ipc.register("transfer.ack", this::ack);
    ipc.register("transfer.conditions", this::conditionsRequest);
  }

  private static String requireText(ObjectNode b, String field) {
    JsonNode n = b.get(field);
    if (n == null || !n.isTextual() || n.asText().isBlank()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the request needs a non-empty text field '" + field + "'");
    }
    return n.asText();
  }

  private static String sessionIdentifier(ObjectNode b) {
    String id = requireText(b, "session");
    if (id.length() > 256) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "a session identifier has at most 256 characters");
    }
    return id;
  }

  private CompletableFuture<ObjectNode> openSession(ClientConnection conn, ObjectNode b) {
    String identifier = sessionIdentifier(b);
    SessionConfig cfg = SessionConfig.fromJson(b.get("configuration"));
    boolean batches = b.path("eventBatches").asBoolean(false);
    SessionKey key = new SessionKey(conn.appId(), identifier);
    long now = clock.now().toEpochMilli();
    return store.write(c -> {
      try (PreparedStatement p = c.prepareStatement("INSERT INTO transfer_sessions(app_id, identifier, config, created_at)"
          + " VALUES (?, ?, ?, ?) ON CONFLICT(app_id, identifier) DO UPDATE SET config = excluded.config")) {
        p.setString(1, key.app());
        p.setString(2, key.id());
        p.setString(3, Json.write(cfg.toJson()));
        p.setLong(4, now);
        p.executeUpdate();
      }
      return null;
    }).thenApplyAsync(v -> {
      configs.put(key, cfg);
      openers.computeIfAbsent(key, k -> new ConcurrentHashMap<>()).put(conn.id(), new Opener(conn, batches));
      try {
        ctx.backgroundWork().urlSessionOpened(key.app(), key.id());
      } catch (IllegalStateException e) {
        log.debug("no task service to tell that session {} of {} was opened", key.id(), key.app());
      }
      boolean idle = store.read(c -> count(c, "SELECT count(*) FROM transfer_events WHERE app_id = ? AND session = ?", key) == 0
          && count(c, "SELECT count(*) FROM transfers WHERE app_id = ? AND session = ? AND state = 'RUNNING'", key) == 0);
      schedulePump(key);
      for (long id : List.copyOf(waitingConditions)) {
        schedule(id);
      }
      ObjectNode o = Json.object();
      o.put("session", identifier);
      o.put("idle", idle);
      o.set("configuration", cfg.toJson());
      return o;
    }, control);
  }

  private CompletableFuture<ObjectNode> closeSession(ClientConnection conn, ObjectNode b) {
    SessionKey key = requireSession(conn, sessionIdentifier(b));
    Map<Long, Opener> m = openers.get(key);
    if (m != null) {
      m.remove(conn.id());
    }
    if (!b.path("cancel").asBoolean(false)) {
      return CompletableFuture.completedFuture(Json.object());
    }
    List<Long> ids = store.read(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT id FROM transfers WHERE app_id = ? AND session = ? AND state != 'COMPLETED'")) {
        p.setString(1, key.app());
        p.setString(2, key.id());
        return ids(p);
      }
    });
    List<CompletableFuture<ObjectNode>> all = new ArrayList<>();
    for (long id : ids) {
      all.add(cancelTransfer(id, ErrorCode.CANCELLED, "the session was invalidated and cancelled", false));
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApply(v -> {
      ObjectNode o = Json.object();
      o.put("cancelled", ids.size());
      return o;
    });
  }

  private SessionKey requireSession(ClientConnection conn, String identifier) {
    SessionKey key = new SessionKey(conn.appId(), identifier);
    if (sessionConfig(key) == null) {
      throw new TetherException(ErrorCode.UNKNOWN_SESSION, "app " + conn.appId() + " has no session '" + identifier
          + "'; create it with tether.urlSession(SessionConfiguration.background(\"" + identifier + "\")...) first");
    }
    return key;
  }

  private SessionConfig sessionConfig(SessionKey key) {
    SessionConfig cached = configs.get(key);
    if (cached != null) {
      return cached;
    }
    SessionConfig read = readSessionConfig(key);
    if (read != null) {
      configs.put(key, read);
    }
    return read;
  }

  private SessionConfig readSessionConfig(SessionKey key) {
    return store.read(c -> {
      PreparedStatement p = statements.get(c, "SELECT config FROM transfer_sessions WHERE app_id = ? AND identifier = ?");
      p.setString(1, key.app());
      p.setString(2, key.id());
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? SessionConfig.fromJson(Json.parse(rs.getString(1))) : null;
      }
    });
  }

  /** A validated request for one new transfer, ready to insert. */
  private record NewTransfer(SessionKey key, String kind, String url, String method, Map<String, String> headers,
      String description, Long notBefore, long expected, String destination, String uploadFile, long now, long deadline,
      ResumeData resume) {}

  /**
   * {@code transfer.download} / {@code transfer.upload}: one transfer, or with {@code items} (an array of such
   * bodies, for {@code tether download --list}) many in one commit, answered with {@code transfers}: each item's
   * snapshot or its {@code error}, in order; with {@code "brief": true} each created item is only {@code {"id": N}}
   * (for a caller that has the rest of what it needs).
   */
  private CompletableFuture<ObjectNode> create(ClientConnection conn, ObjectNode b, String kind) throws IOException {
    if (b.has("items")) {
      return createMany(conn, b, kind);
    }
    NewTransfer n = prepare(conn, b, kind);
    return store.write(c -> insert(c, n)).thenApplyAsync(id -> {
      schedule(id);
      return snapshot(load(id));
    }, control);
  }

  private CompletableFuture<ObjectNode> createMany(ClientConnection conn, ObjectNode b, String kind) {
    JsonNode items = b.get("items");
    if (!items.isArray() || items.isEmpty() || items.size() > 100_000) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "items must be an array of 1 to 100000 transfer requests");
    }
    String session = sessionIdentifier(b);
    boolean brief = b.path("brief").asBoolean(false);
    List<NewTransfer> valid = new ArrayList<>();
    List<Object> results = new ArrayList<>(); // NewTransfer to insert, or the TetherException that refused it
    for (JsonNode item : items) {
      if (!(item instanceof ObjectNode o) || o.has("resumeData")) {
        results.add(new TetherException(ErrorCode.INVALID_PARAMETER, "each item is a transfer request without resumeData"));
        continue;
      }
      o.put("session", session);
      try {
        NewTransfer n = prepare(conn, o, kind);
        valid.add(n);
        results.add(n);
      } catch (TetherException e) {
        results.add(e);
      } catch (IOException e) {
        results.add(new TetherException(ErrorCode.GENERIC, e.toString()));
      }
    }
    return store.write(c -> {
      List<Long> ids = new ArrayList<>();
      for (NewTransfer n : valid) {
        ids.add(insert(c, n));
      }
      // the new rows, read back in one query rather than one each
      Map<Long, TransferRow> rows = new HashMap<>();
      if (!ids.isEmpty()) {
        PreparedStatement p = statements.get(c, "SELECT " + TransferRow.COLUMNS + " FROM transfers WHERE id BETWEEN ? AND ?");
        p.setLong(1, java.util.Collections.min(ids));
        p.setLong(2, java.util.Collections.max(ids));
        for (TransferRow r : rows(p)) {
          rows.put(r.id(), r);
        }
      }
      List<TransferRow> created = new ArrayList<>();
      for (long id : ids) {
        created.add(rows.get(id));
      }
      return created;
    }).thenApplyAsync(created -> {
      ObjectNode out = Json.object();
      ArrayNode list = out.putArray("transfers");
      int next = 0;
      for (Object r : results) {
        if (r instanceof TetherException e) {
          ObjectNode err = list.addObject().putObject("error");
          err.put("code", e.code().name());
          err.put("message", e.getMessage());
        } else {
          TransferRow row = created.get(next++);
          schedule(row.id(), row);
          if (brief) {
            list.addObject().put("id", row.id());
          } else {
            list.add(snapshot(row));
          }
        }
      }
      return out;
    }, control);
  }

  private NewTransfer prepare(ClientConnection conn, ObjectNode b, String kind) throws IOException {
    SessionKey key = requireSession(conn, sessionIdentifier(b));
    SessionConfig cfg = sessionConfig(key);
    ResumeData resume = b.hasNonNull("resumeData") ? ResumeData.decode(b.get("resumeData").asText(), dir) : null;
    String url = resume != null ? resume.url : requireText(b, "url");
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new TetherException(ErrorCode.INVALID_URL, "'" + url + "' is not a valid URL: " + e.getMessage());
    }
    String problem = HttpAttempt.urlProblem(uri, cfg.allowsPlainHttp());
    if (problem != null) {
      throw new TetherException(ErrorCode.INVALID_URL, problem);
    }
    String method = "GET";
    String uploadFile = null;
    if (kind.equals("upload")) {
      method = b.path("method").asText("PUT").toUpperCase(java.util.Locale.ROOT);
      if (!method.equals("PUT") && !method.equals("POST")) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "an upload's method is PUT or POST, not " + method);
      }
      Path f = Path.of(requireText(b, "file"));
      if (!f.isAbsolute()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the upload file must be an absolute path, got " + f);
      }
      if (!Files.isRegularFile(f) || !Files.isReadable(f)) {
        throw new TetherException(ErrorCode.FILE_NOT_FOUND, "the upload file " + f + " does not exist or cannot be read");
      }
      uploadFile = f.toString();
    }
    String destination = null;
    if (b.hasNonNull("destination")) {
      destination = checkDestination(Path.of(b.get("destination").asText())).toString();
    }
    Map<String, String> headers = new HashMap<>();
    if (b.path("headers").isObject()) {
      b.get("headers").fields().forEachRemaining(e -> headers.put(e.getKey(), e.getValue().asText()));
    }
    long now = clock.now().toEpochMilli();
    Long notBefore = null;
    if (b.hasNonNull("notBefore")) {
      try {
        notBefore = Instant.parse(b.get("notBefore").asText()).toEpochMilli();
      } catch (RuntimeException e) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "notBefore must be an ISO-8601 instant, got " + b.get("notBefore"));
      }
    }
    long expected = b.path("expectedBytes").asLong(-1);
    if (kind.equals("download") && expected > 0) {
      long have = resume == null ? 0 : resume.bytes;
      String shortfall = DiskSpace.shortfall(dir, Math.max(0, expected - have), destination == null ? null : Path.of(destination), expected);
      if (shortfall != null) {
        throw new TetherException(ErrorCode.INSUFFICIENT_SPACE, shortfall);
      }
    }
    String description = b.hasNonNull("description") ? b.get("description").asText() : null;
    long deadline = Math.max(now, notBefore == null ? now : notBefore) + cfg.resourceTimeout().toMillis();
    return new NewTransfer(key, kind, url, method, headers, description, notBefore, expected, destination, uploadFile,
        now, deadline, resume);
  }

  /** Inserts a prepared transfer (in the caller's write) and returns its id. */
  private long insert(Connection c, NewTransfer n) throws SQLException {
    SessionKey key = n.key();
    String kind = n.kind();
    ResumeData resume = n.resume();
    long now = n.now();
    long id;
    PreparedStatement p = statements.get(c, "INSERT INTO transfers(app_id, session, kind, url, method, headers,"
        + " description, earliest_begin, expected_bytes, state, destination, upload_file, created_at, deadline, etag,"
        + " last_modified, accept_ranges, total_bytes) VALUES (?,?,?,?,?,?,?,?,?,'RUNNING',?,?,?,?,?,?,?,?)");
    p.setString(1, key.app());
    p.setString(2, key.id());
    p.setString(3, kind);
    p.setString(4, n.url());
    p.setString(5, n.method());
    p.setString(6, Json.write(n.headers()));
    p.setString(7, n.description());
    if (n.notBefore() == null) {
      p.setNull(8, java.sql.Types.INTEGER);
    } else {
      p.setLong(8, n.notBefore());
    }
    p.setLong(9, n.expected());
    p.setString(10, n.destination());
    p.setString(11, n.uploadFile());
    p.setLong(12, now);
    p.setLong(13, n.deadline());
    p.setString(14, resume == null ? null : resume.etag);
    p.setString(15, resume == null ? null : resume.lastModified);
    p.setInt(16, resume == null ? 0 : 1);
    p.setLong(17, resume == null ? -1 : resume.total);
    p.executeUpdate();
    try (ResultSet rs = statements.get(c, "SELECT last_insert_rowid()").executeQuery()) {
      rs.next();
      id = rs.getLong(1);
    }
    String temp = kind.equals("download") ? "transfer-" + id + ".part" : null;
    PreparedStatement named = statements.get(c, "UPDATE transfers SET temp_file = ?, bytes_done = ? WHERE id = ?");
    named.setString(1, temp);
    named.setLong(2, resume == null ? 0 : resume.bytes);
    named.setLong(3, id);
    named.executeUpdate();
    if (resume != null) {
      try {
        Files.move(resume.file, dir.resolve(temp), StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data's partial file cannot be used: " + e.getMessage());
      }
    }
    return id;
  }

  private static Path checkDestination(Path dest) {
    if (!dest.isAbsolute()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the destination must be an absolute path, got " + dest);
    }
    if (Files.isDirectory(dest)) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "the destination " + dest + " is a directory; name a file");
    }
    Path parent = dest.getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "the destination's folder " + parent + " does not exist; create it first");
    }
    if (!Files.isWritable(parent) || (Files.exists(dest) && !Files.isWritable(dest))) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "the destination " + dest + " cannot be written by tetherd (check permissions)");
    }
    return dest.normalize();
  }

  private CompletableFuture<ObjectNode> list(ClientConnection conn, ObjectNode b) {
    boolean all = b.path("allApps").asBoolean(false);
    if (all && !CLI_APP_ID.equals(conn.appId())) {
      throw new TetherException(ErrorCode.PERMISSION_DENIED, "only the tether CLI may list every app's transfers");
    }
    String session = b.hasNonNull("session") ? sessionIdentifier(b) : null;
    if (session != null) {
      requireSession(conn, session);
    }
    List<TransferRow> rows = store.read(c -> {
      String sql = "SELECT " + TransferRow.COLUMNS + " FROM transfers WHERE (? OR app_id = ?) AND (? IS NULL OR session = ?) ORDER BY id";
      try (PreparedStatement p = c.prepareStatement(sql)) {
        p.setBoolean(1, all);
        p.setString(2, conn.appId());
        p.setString(3, session);
        p.setString(4, session);
        return rows(p);
      }
    });
    ArrayNode arr = Json.array();
    for (TransferRow r : rows) {
      arr.add(snapshot(r));
    }
    ObjectNode o = Json.object();
    o.set("transfers", arr);
    return CompletableFuture.completedFuture(o);
  }

  private TransferRow requireTransfer(ClientConnection conn, ObjectNode b) {
    JsonNode idNode = b.get("id");
    if (idNode == null || !idNode.canConvertToLong()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the request needs a numeric transfer 'id'");
    }
    long id = idNode.asLong();
    TransferRow r = load(id);
    if (r == null || !(r.appId().equals(conn.appId()) || CLI_APP_ID.equals(conn.appId()))) {
      throw new TetherException(ErrorCode.UNKNOWN_TRANSFER, CLI_APP_ID.equals(conn.appId())
          ? "there is no transfer " + id + "; 'tether transfers' lists them"
          : "app " + conn.appId() + " has no transfer " + id + "; list yours with allTransfers() or 'tether transfers'");
    }
    return r;
  }

  private CompletableFuture<ObjectNode> suspend(ClientConnection conn, ObjectNode b) {
    TransferRow r = requireTransfer(conn, b);
    if (TransferRow.COMPLETED.equals(r.state())) {
      throw new TetherException(ErrorCode.INVALID_STATE, "transfer " + r.id() + " has completed; it cannot be suspended");
    }
    Running run = running.get(r.id());
    long bytes = run != null && run.bytes >= 0 ? run.bytes : r.bytesDone();
    return store.write(c -> update(c, "UPDATE transfers SET state = 'SUSPENDED', bytes_done = ? WHERE id = ? AND state = 'RUNNING'",
        bytes, r.id())).thenApplyAsync(n -> {
          Running now = running.get(r.id());
          if (now != null) {
            now.attempt.stop();
          }
          cancelTimer(r.id());
          waitingConditions.remove(r.id());
          waitingNetwork.remove(r.id());
          return snapshot(load(r.id()));
        }, control);
  }

  private CompletableFuture<ObjectNode> resume(ClientConnection conn, ObjectNode b) {
    TransferRow r = requireTransfer(conn, b);
    if (TransferRow.COMPLETED.equals(r.state())) {
      throw new TetherException(ErrorCode.INVALID_STATE, "transfer " + r.id() + " has completed; start a new one instead");
    }
    return store.write(c -> update(c, "UPDATE transfers SET state = 'RUNNING', next_attempt_at = 0 WHERE id = ? AND state = 'SUSPENDED'",
        r.id())).thenApplyAsync(n -> {
          schedule(r.id());
          return snapshot(load(r.id()));
        }, control);
  }

  private CompletableFuture<ObjectNode> cancel(ClientConnection conn, ObjectNode b) {
    TransferRow r = requireTransfer(conn, b);
    if (TransferRow.COMPLETED.equals(r.state())) {
      throw new TetherException(ErrorCode.INVALID_STATE, "transfer " + r.id() + " has already completed");
    }
    return cancelTransfer(r.id(), ErrorCode.CANCELLED, "the transfer was cancelled", b.path("produceResumeData").asBoolean(false));
  }

  private void forceQuit(String appId) {
    List<Long> ids = store.read(c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT id FROM transfers WHERE app_id = ? AND state != 'COMPLETED'")) {
        p.setString(1, appId);
        return ids(p);
      }
    });
    log.info("force quit of {}: cancelling {} transfer(s)", appId, ids.size());
    for (long id : ids) {
      cancelTransfer(id, ErrorCode.USER_FORCE_QUIT_APPLICATION, "the user force-quit the app", false);
    }
  }

  /** Completes the transfer with an error, stops its attempt, then removes or keeps (as resume data) its part file. */
  private CompletableFuture<ObjectNode> cancelTransfer(long id, ErrorCode code, String message, boolean produceResumeData) {
    return store.write(c -> completeTx(c, id, code, message, 0, -1, null)).thenComposeAsync(done -> {
      Running run = running.get(id);
      cancelTimer(id);
      waitingConditions.remove(id);
      waitingNetwork.remove(id);
      CompletableFuture<Void> stopped = CompletableFuture.completedFuture(null);
      if (run != null) {
        run.attempt.stop();
        stopped = run.done;
      }
      return stopped.thenApplyAsync(v -> {
        TransferRow r = load(id);
        if (r.uploadResource() != null && !closed) {
          // tell a resumable-upload server it can drop what it kept (best effort, off this thread)
          SessionConfig cfg = sessionConfig(new SessionKey(r.appId(), r.session()));
          workers.execute(() -> new HttpAttempt(http, r, cfg, null, flusher).cancelUploadResource(URI.create(r.uploadResource()), r.credential()));
        }
        ObjectNode o = Json.object();
        o.set("transfer", snapshot(r));
        String data = null;
        if (r.tempFile() != null) {
          Path part = dir.resolve(r.tempFile());
          try {
            if (produceResumeData && Files.exists(part) && Files.size(part) > 0 && r.acceptRanges()
                && (HttpAttempt.strong(r.etag()) || r.lastModified() != null)) {
              Path kept = dir.resolve("resume-" + UUID.randomUUID() + ".part");
              Files.move(part, kept, StandardCopyOption.ATOMIC_MOVE);
              data = new ResumeData(r.url(), r.etag(), r.lastModified(), Files.size(kept), r.totalBytes(), kept).encode();
            } else {
              Files.deleteIfExists(part);
            }
          } catch (IOException e) {
            log.warn("transfer {}: cannot keep or remove its partial file: {}", id, e.toString());
          }
        }
        if (data != null) {
          o.put("resumeData", data);
        } else {
          o.putNull("resumeData");
        }
        if (done) {
          afterEvents(new SessionKey(r.appId(), r.session()), "transfer completed");
        }
        return o;
      }, control);
    }, control);
  }

  private record Acked(String file, Long reschedule) {}

  /**
   * {@code transfer.ack}: the app's delegate has returned from the event {@code seq} (with its {@code answer} to a
   * challenge), or from each of the events {@code seqs} (the client acknowledges a burst in one request).
   */
  private CompletableFuture<ObjectNode> ack(ClientConnection conn, ObjectNode b) {
    SessionKey key = new SessionKey(conn.appId(), sessionIdentifier(b));
    List<Long> seqs = new ArrayList<>();
    if (b.path("seqs").isArray()) {
      b.get("seqs").forEach(n -> seqs.add(n.asLong(-1)));
    } else {
      seqs.add(b.path("seq").asLong(-1));
    }
    JsonNode answer = seqs.size() == 1 ? b.get("answer") : null;
    return store.write(c -> {
      List<Acked> done = new ArrayList<>();
      for (long seq : seqs) {
        Acked a = ackOne(c, key, seq, answer);
        if (a != null) {
          done.add(a);
        }
      }
      if (!done.isEmpty()) {
        checkFinished(c, key);
      }
      return done;
    }).thenApplyAsync(done -> {
      for (Acked a : done) {
        if (a.file() != null) {
          try {
            Files.deleteIfExists(Path.of(a.file()));
          } catch (IOException e) {
            log.warn("cannot remove delivered file {}: {}", a.file(), e.toString());
          }
        }
        if (a.reschedule() != null) {
          schedule(a.reschedule());
        }
      }
      schedulePump(key);
      return Json.object();
    }, control);
  }

  /** Removes one acknowledged event; null when it was acknowledged before (a redelivery). */
  private Acked ackOne(Connection c, SessionKey key, long seq, JsonNode answer) throws SQLException {
    String type;
    String file;
    long transferId;
    String challenge;
    boolean moved;
    // one statement: the row goes and what the acknowledgement needs of it comes back (SQLite reads "moved" itself)
    PreparedStatement p = statements.get(c, "DELETE FROM transfer_events WHERE app_id = ? AND session = ? AND seq = ?"
        + " RETURNING type, file, transfer_id, CASE WHEN type = 'challenge' THEN body END,"
        + " CASE WHEN type = 'downloadFinished' THEN json_extract(body, '$.moved') END");
    p.setString(1, key.app());
    p.setString(2, key.id());
    p.setLong(3, seq);
    try (ResultSet rs = p.executeQuery()) {
      if (!rs.next()) {
        return null;
      }
      type = rs.getString(1);
      file = rs.getString(2);
      transferId = rs.getLong(3);
      challenge = rs.getString(4);
      moved = rs.getInt(5) == 1;
    }
    Long reschedule = null;
    if ("challenge".equals(type)) {
      reschedule = answerChallenge(c, transferId, answer, Json.parseObject(challenge)) ? transferId : null;
    }
    return new Acked(moved ? null : file, reschedule);
  }

  /** Applies the app's answer to a challenge; true when the transfer should run again. */
  private boolean answerChallenge(Connection c, long id, JsonNode answer, ObjectNode event) throws SQLException {
    TransferRow r = loadTx(c, id);
    if (r == null || !TransferRow.RUNNING.equals(r.state()) || !TransferRow.CHALLENGE.equals(r.phase())) {
      return false;
    }
    String disposition = answer == null ? "performDefault" : answer.path("disposition").asText("performDefault");
    int status = event.path("challenge").path("status").asInt(401);
    switch (disposition) {
      case "useCredential" -> {
        String user = answer.path("user").asText("");
        String password = answer.path("password").asText("");
        update(c, "UPDATE transfers SET phase = 'ready', credential = ?, next_attempt_at = 0 WHERE id = ?", user + ":" + password, id);
        return true;
      }
      case "cancel" -> {
        completeTx(c, id, ErrorCode.CANCELLED, "the app cancelled the authentication challenge", status, -1, null);
        return false;
      }
      default -> {
        completeTx(c, id, ErrorCode.HTTP_ERROR, "the server requires authentication (" + status
            + ") and the app gave no credential", status, -1, null);
        return false;
      }
    }
  }

  private CompletableFuture<ObjectNode> conditionsRequest(ClientConnection conn, ObjectNode b) {
    String power = b.hasNonNull("power") ? b.get("power").asText() : null;
    String network = b.hasNonNull("network") ? b.get("network").asText() : null;
    if ((power != null || network != null) && !CLI_APP_ID.equals(conn.appId())) {
      throw new TetherException(ErrorCode.PERMISSION_DENIED, "only the tether CLI may override device conditions");
    }
    if (power != null && !List.of("external", "battery", "auto").contains(power)) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "power is external, battery or auto, not " + power);
    }
    if (network != null && !List.of("unmetered", "metered", Conditions.NONE, "auto").contains(network)) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "network is unmetered, metered, none or auto, not " + network);
    }
    return store.write(c -> {
      if (power != null) {
        update(c, "INSERT INTO transfer_conditions(name, value) VALUES ('power', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", power);
      }
      if (network != null) {
        update(c, "INSERT INTO transfer_conditions(name, value) VALUES ('network', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", network);
      }
      return null;
    }).thenApplyAsync(v -> {
      conditions.overrides(power != null ? power : conditions.powerOverride(), network != null ? network : conditions.networkOverride());
      networkCheck(conditions.online(true));
      for (long id : List.copyOf(waitingConditions)) {
        schedule(id);
      }
      ObjectNode o = Json.object();
      o.put("power", conditions.power());
      o.put("network", conditions.network());
      o.put("powerSetting", conditions.powerOverride());
      o.put("networkSetting", conditions.networkOverride());
      o.put("discretionaryMayRun", conditions.goodForDiscretionary());
      o.put("waitingForConditions", waitingConditions.size());
      o.put("waitingForNetwork", waitingNetwork.size());
      return o;
    }, control);
  }

  private void loadConditions() {
    Map<String, String> m = store.read(c -> {
      Map<String, String> out = new HashMap<>();
      try (PreparedStatement p = c.prepareStatement("SELECT name, value FROM transfer_conditions"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getString(2));
        }
      }
      return out;
    });
    conditions.overrides(m.getOrDefault("power", Conditions.AUTO), m.getOrDefault("network", Conditions.AUTO));
  }

  private void conditionsTick() {
    if (closed) {
      return;
    }
    long now = clock.now().toEpochMilli();
    if (now - lastPrune >= Duration.ofHours(1).toMillis()) {
      lastPrune = now;
      prune(now);
    }
    for (long id : List.copyOf(waitingConditions)) {
      schedule(id);
    }
  }

  /**
   * Runs {@link #conditionsTick} every minute. The next timer is set when this one fires, not when the tick has run on
   * the control pool: a virtual clock (the test kit's) that is moved on before a slow tick ran would otherwise find no
   * timer left, and pruning and condition checks would stop for good.
   */
  private void scheduleConditionsTick() {
    clock.schedule(clock.now().plusSeconds(60), () -> {
      if (closed) {
        return;
      }
      scheduleConditionsTick();
      try {
        control.execute(this::conditionsTick);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // the daemon is stopping
      }
    });
  }

  // ---------------------------------------------------------------------------------------------------- network

  private static Set<String> remoteHosts(String property) {
    Set<String> out = new java.util.HashSet<>();
    for (String h : property.split(",")) {
      if (!h.isBlank()) {
        out.add(h.trim().toLowerCase(java.util.Locale.ROOT));
      }
    }
    if (!out.isEmpty()) {
      log.warn("test-only {} is set: treating {} as remote hosts that need a network", REMOTE_HOSTS_PROPERTY, out);
    }
    return Set.copyOf(out);
  }

  /**
   * Whether a transfer to {@code url} needs a network: every host but this machine ({@link LocalHosts}). A name whose
   * lookup has not ended yet needs one for now; when the lookup ends, transfers waiting for a network are looked at again.
   */
  private boolean needsNetwork(String url) {
    String host = URI.create(url).getHost();
    if (host == null) {
      return true;
    }
    if (treatedAsRemote.contains(host.toLowerCase(java.util.Locale.ROOT))) {
      return true;
    }
    return !Boolean.TRUE.equals(localHosts.isLocal(host));
  }

  /** Schedules again what waits for a network (some of it may turn out to need none). */
  private void recheckWaitingForNetwork() {
    for (long id : List.copyOf(waitingNetwork)) {
      schedule(id);
    }
  }

  /**
   * Notes a connection failure just counted as a failed attempt of transfer {@code r}, so that it can be taken back
   * if the device is seen offline within {@link #OFFLINE_GRACE}; arms a network check so that is noticed.
   */
  private void noteCountedFailure(TransferRow r, boolean madeProgress) {
    assert Thread.holdsLock(recentFailures);
    long now = System.nanoTime();
    recentFailures.compute(r.id(), (id, q) -> {
      Deque<CountedFailure> d = q != null ? q : new ArrayDeque<>();
      if (madeProgress) {
        d.clear(); // the count started again at 0: older failures no longer count
      }
      d.addLast(new CountedFailure(now, madeProgress ? 0 : r.attempts()));
      return d;
    });
    watchNetwork();
  }

  /** Forgets failures older than {@link #OFFLINE_GRACE}; true while some recent one is left. */
  private boolean pruneRecentFailures() {
    long cutoff = System.nanoTime() - OFFLINE_GRACE.toNanos();
    synchronized (recentFailures) { // the deques are changed only under this lock
      for (Deque<CountedFailure> q : recentFailures.values()) {
        q.removeIf(f -> f.atNanos() < cutoff);
      }
      recentFailures.values().removeIf(Deque::isEmpty);
      return !recentFailures.isEmpty();
    }
  }

  /**
   * The device is seen offline: connection failures of the last {@link #OFFLINE_GRACE} were the network going away
   * (they race the network check), not failed attempts. Each such transfer gets back its count of failed attempts from
   * before the first of them and drops its back-off, and waits for a network like the rest.
   */
  private void forgiveRecentFailures() {
    pruneRecentFailures();
    for (long id : List.copyOf(recentFailures.keySet())) {
      forgiveRecentFailure(id);
    }
  }

  private void forgiveRecentFailure(long id) {
    Deque<CountedFailure> q;
    synchronized (recentFailures) {
      q = recentFailures.remove(id);
    }
    CountedFailure first = q == null ? null : q.peekFirst();
    if (first == null || System.nanoTime() - first.atNanos() > OFFLINE_GRACE.toNanos()) {
      return;
    }
    int changed = Store.await(store.write(c -> update(c, "UPDATE transfers SET attempts = ?, next_attempt_at = 0"
        + " WHERE id = ? AND state = 'RUNNING'", first.attemptsBefore(), id)));
    if (changed > 0) {
      log.info("transfer {}: the device has no network; the connection failure(s) of the last {} s were the network going"
          + " away, not failed attempts: it waits for a network", id, OFFLINE_GRACE.toSeconds());
      cancelTimer(id);
      schedule(id);
    }
  }

  /** Arms one re-check of the network {@link #NETWORK_RECHECK} from now, unless one is armed already. */
  private void watchNetwork() {
    if (closed || !networkWatch.compareAndSet(false, true)) {
      return;
    }
    clock.schedule(clock.now().plus(NETWORK_RECHECK), () -> {
      networkWatch.set(false);
      if (closed) {
        return;
      }
      try {
        control.execute(this::networkTick);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // the daemon is stopping
      }
    });
  }

  /** Reads the network again while a transfer waits for one or runs over one; keeps watching while that lasts. */
  private void networkTick() {
    if (closed || (waitingNetwork.isEmpty() && !remoteRunning() && !pruneRecentFailures())) {
      return;
    }
    networkCheck(conditions.online(true));
    if (!waitingNetwork.isEmpty() || remoteRunning() || pruneRecentFailures()) {
      watchNetwork();
    }
  }

  private boolean remoteRunning() {
    for (Running run : running.values()) {
      if (needsNetwork(run.row.url())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Acts on whether the device is online: without a network, attempts to remote hosts stop (their bytes stay for a
   * ranged resume, and the stop is no failed attempt) and wait; with one, what waited for it starts at once.
   */
  private void networkCheck(boolean online) {
    if (!online) {
      for (Running run : List.copyOf(running.values())) {
        if (needsNetwork(run.row.url()) && !run.attempt.isStopped()) {
          long bytes = run.bytes;
          log.info("transfer {}: the device has no network; the attempt stops and the transfer waits for a network", run.row.id());
          if (bytes >= 0) { // what the transfer shows while it waits (the part file is what a resume goes by)
            Store.await(store.write(c -> update(c, "UPDATE transfers SET bytes_done = ? WHERE id = ? AND state = 'RUNNING'",
                bytes, run.row.id())));
          }
          run.attempt.stop();
        }
      }
      forgiveRecentFailures();
      if (remoteRunning()) {
        watchNetwork();
      }
    } else {
      for (long id : List.copyOf(waitingNetwork)) {
        schedule(id);
      }
    }
  }

  /** Has {@link #schedule(long)} look at a waiting transfer again at its deadline, so waiting never outlasts it. */
  private void deadlineTimer(long id, long deadline) {
    if (timers.containsKey(id)) {
      return;
    }
    timers.put(id, clock.schedule(Instant.ofEpochMilli(deadline), () -> {
      timers.remove(id);
      control.execute(() -> schedule(id));
    }));
  }

  // ---------------------------------------------------------------------------------------------------- engine

  /** Decides when the transfer runs next: now (via its host slot), at a timer, when conditions allow, or never. */
  private void schedule(long id) {
    if (closed || queued.contains(id) || finalizing.contains(id)) {
      return;
    }
    schedule(id, load(id));
  }

  /** {@link #schedule(long)} with the transfer's row already at hand (just created). */
  private void schedule(long id, TransferRow r) {
    if (closed || queued.contains(id) || finalizing.contains(id)) {
      return;
    }
    if (r == null || !TransferRow.RUNNING.equals(r.state()) || !TransferRow.READY.equals(r.phase())) {
      return;
    }
    SessionConfig cfg = sessionConfig(new SessionKey(r.appId(), r.session()));
    synchronized (this) {
      scheduleLocked(id, r, cfg);
    }
  }

  /** The decision part of {@link #schedule}: under the lock so one transfer is never queued twice. */
  private void scheduleLocked(long id, TransferRow r, SessionConfig cfg) {
    if (closed || queued.contains(id) || finalizing.contains(id)) {
      return;
    }
    long now = clock.now().toEpochMilli();
    long at = Math.max(r.earliestBegin() == null ? 0 : r.earliestBegin(), r.nextAttemptAt());
    if (at > now) {
      cancelTimer(id);
      timers.put(id, clock.schedule(Instant.ofEpochMilli(at), () -> {
        timers.remove(id);
        control.execute(() -> schedule(id));
      }));
      return;
    }
    // past its resource timeout a transfer waits no more: its attempt fails it at once (RESOURCE_TIMED_OUT)
    boolean expired = now >= r.deadline();
    // the host first: transfers to this machine never make the daemon read the system's network state
    if (!expired && needsNetwork(r.url()) && !conditions.online(false)) {
      waitingConditions.remove(id);
      waitingNetwork.add(id);
      deadlineTimer(id, r.deadline());
      watchNetwork();
      if (recentFailures.containsKey(id)) {
        try {
          control.execute(() -> forgiveRecentFailure(id)); // seen offline here first: its last failures were that
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // the daemon is stopping
        }
      }
      return;
    }
    waitingNetwork.remove(id);
    if (!expired && cfg.discretionary() && !conditions.goodForDiscretionary()) {
      waitingConditions.add(id);
      deadlineTimer(id, r.deadline());
      return;
    }
    waitingConditions.remove(id);
    cancelTimer(id);
    URI u = URI.create(r.url());
    String slotKey = r.appId() + "|" + r.session() + "|" + u.getHost() + ":" + u.getPort();
    queued.add(id);
    boolean start;
    synchronized (slots) {
      Slot s = slots.computeIfAbsent(slotKey, k -> new Slot());
      start = s.active < cfg.maxConnectionsPerHost();
      if (start) {
        s.active++;
      } else {
        s.waiting.add(id);
      }
    }
    if (start) {
      startAttempt(id, slotKey, r);
    }
  }

  /** Runs an attempt on a worker; {@code row} is the transfer's row as just read, or null to read it there. */
  private void startAttempt(long id, String slotKey, TransferRow row) {
    try {
      workers.execute(() -> runAttempt(id, slotKey, row));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      queued.remove(id);
    }
  }

  private void releaseSlot(String slotKey) {
    Long next = null;
    synchronized (slots) {
      Slot s = slots.get(slotKey);
      if (s == null) {
        return;
      }
      next = s.waiting.poll();
      if (next == null) {
        s.active--;
        if (s.active == 0) {
          slots.remove(slotKey);
        }
      }
    }
    if (next != null) {
      startAttempt(next, slotKey, null); // it waited: read its row when it starts
    }
  }

  private void cancelTimer(long id) {
    TetherClock.Timer t = timers.remove(id);
    if (t != null) {
      t.cancel();
    }
  }

  private void runAttempt(long id, String slotKey, TransferRow row) {
    Running run = null;
    boolean toFinisher = false; // a finished download: the finisher decides what comes next
    try {
      if (closed) {
        return;
      }
      TransferRow r = row != null ? row : load(id);
      if (r == null || !TransferRow.RUNNING.equals(r.state()) || !TransferRow.READY.equals(r.phase())) {
        return;
      }
      long now = clock.now().toEpochMilli();
      if (now >= r.deadline()) {
        boolean offline = needsNetwork(r.url()) && !conditions.online(false);
        finish(r, new HttpAttempt.Fail(ErrorCode.RESOURCE_TIMED_OUT, "the transfer did not finish within the session's resource timeout"
            + (offline ? " (the device has no network)" : ""), 0));
        return;
      }
      SessionConfig cfg = sessionConfig(new SessionKey(r.appId(), r.session()));
      Path part = r.tempFile() == null ? null : dir.resolve(r.tempFile());
      Path finished = dir.resolve("transfer-" + id + ".download");
      if (r.isDownload() && r.destination() == null && Files.exists(finished) && (part == null || !Files.exists(part))) {
        // the daemon stopped between moving the finished file and recording it: record it now
        finish(r, new HttpAttempt.Done(r.status(), Files.size(finished)));
        return;
      }
      HttpAttempt attempt = new HttpAttempt(http, r, cfg, part, flusher);
      run = new Running(attempt, r);
      running.put(id, run);
      if (needsNetwork(r.url())) {
        if (!conditions.online(false)) {
          return; // the network went away since it was scheduled: it waits for one (finally reschedules it)
        }
        watchNetwork(); // notice the network going away while this runs
      }
      // a suspend or cancel that ran before the attempt was registered did not see it: it must not start then
      if (!TransferRow.RUNNING.equals(state(id))) {
        return;
      }
      final Running fRun = run;
      long t0 = System.nanoTime();
      HttpAttempt.Outcome o = attempt.run(r.credential(), bytes -> progress(fRun, bytes), validatorSink(r), uploadResourceSink(r));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      if (o instanceof HttpAttempt.Done d && d.bytes() >= (64L << 20)) {
        log.info("transfer {}: {} MiB in {} ms ({} MiB/s)", id, d.bytes() >> 20, ms, ms == 0 ? 0 : (d.bytes() >> 20) * 1000 / ms);
      }
      toFinisher = o instanceof HttpAttempt.Done && r.isDownload();
      finish(r, o);
    } catch (Throwable t) {
      log.error("transfer {} failed unexpectedly", id, t);
      TransferRow r = load(id);
      if (r != null) {
        try {
          finish(r, new HttpAttempt.Retry(null, "internal error: " + t, false, false));
        } catch (Throwable t2) {
          log.error("transfer {}: cannot record the failure", id, t2);
        }
      }
    } finally {
      if (run != null) {
        running.remove(id, run);
        run.done.complete(null);
      }
      queued.remove(id);
      releaseSlot(slotKey);
      if (!closed && !toFinisher) {
        control.execute(() -> schedule(id));
      }
    }
  }

  private HttpAttempt.UploadResourceSink uploadResourceSink(TransferRow r) {
    return resource -> {
      if (resource != null) {
        log.info("transfer {}: the server takes it as a resumable upload at {}", r.id(), resource);
      }
      // durable before any byte goes to it: an upload resumed after a restart starts from this resource
      Store.await(store.write(c -> update(c, "UPDATE transfers SET upload_resource = ? WHERE id = ?", resource, r.id())));
    };
  }

  private HttpAttempt.ValidatorSink validatorSink(TransferRow r) {
    return (etag, lastModified, acceptRanges, total, status, restarted) -> {
      if (total >= 0 && total <= SMALL_BODY && !restarted && r.etag() == null) {
        return; // a small body is fetched again rather than resumed: no need to record its validator
      }
      if (restarted) {
        log.info("transfer {}: the server sent the whole body again (validator changed or no range support); restarting from 0", r.id());
      }
      CompletableFuture<Integer> f = store.write(c -> update(c, "UPDATE transfers SET etag = ?, last_modified = ?, accept_ranges = ?,"
          + " total_bytes = ?, status = ? WHERE id = ?", etag, lastModified, acceptRanges ? 1 : 0, total, status, r.id()));
      Store.await(f); // a large body may be resumed after a crash: its validator must be durable first
    };
  }

  /**
   * Progress is pushed at most every {@value #PROGRESS_INTERVAL_MS} ms per transfer, the first one that long after the
   * attempt started, always with the latest count (a trailing push is scheduled when one is due later): a transfer
   * finishing sooner pushes none, its completion says it all.
   */
  private void progress(Running run, long bytes) {
    run.bytes = bytes;
    if (run.progressPending.get()) {
      return;
    }
    long now = System.nanoTime() / 1_000_000;
    long due = Math.max(run.startedAt, run.lastProgressAt) + PROGRESS_INTERVAL_MS;
    if (!run.progressPending.compareAndSet(false, true)) {
      return;
    }
    if (now >= due) {
      pushProgress(run);
    } else {
      try {
        progressTimer.schedule(() -> pushProgress(run), due - now, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        run.progressPending.set(false); // shutting down
      }
    }
  }

  private void pushProgress(Running run) {
    run.lastProgressAt = System.nanoTime() / 1_000_000;
    run.progressPending.set(false);
    if (running.get(run.row.id()) != run) {
      return; // the attempt ended meanwhile
    }
    SessionKey key = new SessionKey(run.row.appId(), run.row.session());
    Map<Long, Opener> m = openers.get(key);
    if (m == null || m.isEmpty()) {
      return;
    }
    events.execute(() -> {
      TransferRow r = load(run.row.id());
      if (r == null || !TransferRow.RUNNING.equals(r.state())) {
        return;
      }
      ObjectNode o = Json.object();
      o.put("session", key.id());
      o.put("type", r.isDownload() ? "progress" : "uploadProgress");
      o.set("transfer", snapshot(r));
      for (Opener op : m.values()) {
        op.conn.push("transfer.progress", o);
      }
    });
  }

  /** Records an attempt's outcome: completion (with its events), a retry time, or a challenge. */
  private void finish(TransferRow r, HttpAttempt.Outcome o) throws IOException {
    SessionKey key = new SessionKey(r.appId(), r.session());
    long id = r.id();
    Path part = r.tempFile() == null ? null : dir.resolve(r.tempFile());
    if (o instanceof HttpAttempt.Stopped) {
      return; // suspend, cancel or shutdown did the bookkeeping
    }
    if (!(o instanceof HttpAttempt.Retry)) {
      recentFailures.remove(id); // it got through: earlier failures are history
    }
    if (o instanceof HttpAttempt.Done d && r.isDownload()) {
      // the finisher syncs, moves and records finished downloads in batches (one flush for many small files)
      finalizing.add(id);
      queued.remove(id); // no longer queued, and finalizing keeps it from being scheduled until the finisher is done
      finishing.add(new Finished(r, part, d.status(), d.bytes()));
    } else if (o instanceof HttpAttempt.Done d) {
      {
        if (Store.await(store.write(c -> completeTx(c, id, null, null, d.status(), d.bytes(), null)))) {
          afterEvents(key, "transfers finished");
        }
      }
    } else if (o instanceof HttpAttempt.Fail f) {
      {
        if (f.code() == ErrorCode.INSUFFICIENT_SPACE && part != null) {
          // give the space back first: on a full disk the store needs it to record the failure
          Files.deleteIfExists(part);
        }
        if (Store.await(store.write(c -> completeTx(c, id, f.code(), f.message(), f.status(), -1, null)))) {
          if (part != null) {
            Files.deleteIfExists(part);
          }
          afterEvents(key, "transfers finished");
        }
      }
    } else if (o instanceof HttpAttempt.Retry rt && needsNetwork(r.url()) && !conditions.online(true)) {
      // failed because the network went away: no failed attempt, no back-off; schedule() has it wait for a network
      log.info("transfer {}: {} while the device has no network; it waits for one", id, rt.reason());
      Store.await(store.write(c -> update(c, "UPDATE transfers SET next_attempt_at = 0, error_message = ?"
          + " WHERE id = ? AND state = 'RUNNING'", rt.reason(), id)));
    } else if (o instanceof HttpAttempt.Retry rt) {
      {
        int attempts = rt.madeProgress() ? 0 : r.attempts() + 1;
        Duration delay = rt.retryAfter() != null ? rt.retryAfter()
            : rt.madeProgress() ? Duration.ofMillis(200) : Duration.ofMillis(Math.min(60_000, 500L << Math.min(attempts, 7)));
        long next = clock.now().toEpochMilli() + delay.toMillis();
        if (next >= r.deadline()) {
          finish(r, new HttpAttempt.Fail(ErrorCode.RESOURCE_TIMED_OUT, "the transfer did not finish within the session's"
              + " resource timeout; last problem: " + rt.reason(), 0));
          return;
        }
        log.info("transfer {}: {}; retrying in {} ms", id, rt.reason(), delay.toMillis());
        boolean mayBeTheNetwork = rt.transport() && needsNetwork(r.url());
        CompletableFuture<Integer> recorded;
        synchronized (recentFailures) { // noted before its write is queued: a forgiveness is written after it
          if (mayBeTheNetwork) {
            noteCountedFailure(r, rt.madeProgress());
          }
          recorded = store.write(c -> update(c, "UPDATE transfers SET attempts = ?, next_attempt_at = ?, error_message = ?"
              + " WHERE id = ? AND state = 'RUNNING'", attempts, next, rt.reason(), id));
        }
        Store.await(recorded);
        if (mayBeTheNetwork && !conditions.online(false)) {
          forgiveRecentFailure(id); // the device went offline while this was recorded
        }
      }
    } else if (o instanceof HttpAttempt.Challenge ch) {
      {
        boolean recorded = Store.await(store.write(c -> {
          TransferRow now = loadTx(c, id);
          if (now == null || !TransferRow.RUNNING.equals(now.state())) {
            return false;
          }
          update(c, "UPDATE transfers SET phase = 'challenge', status = ?, challenge_count = challenge_count + 1 WHERE id = ?", ch.status(), id);
          ObjectNode ev = Json.object();
          ev.set("transfer", snapshotTx(c, id, null));
          ObjectNode cj = ev.putObject("challenge");
          cj.put("status", ch.status());
          cj.put("scheme", ch.scheme());
          if (ch.realm() != null) {
            cj.put("realm", ch.realm());
          }
          cj.put("proxy", ch.proxy());
          cj.put("host", URI.create(now.url()).getHost());
          cj.put("previousFailureCount", now.challengeCount());
          addEvent(c, key, "challenge", id, ev, null);
          return true;
        }));
        if (recorded) {
          schedulePump(key);
          maybeWake(key, "authentication challenge");
        }
      }
    }
  }

  private void finishLoop() {
    List<Finished> batch = new ArrayList<>();
    Set<Long> recorded = new java.util.HashSet<>();
    while (!closed) {
      try {
        Finished first = finishing.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        finishing.drainTo(batch, 1023);
        finalizeBatch(batch, recorded);
      } catch (InterruptedException e) {
        return;
      } catch (Throwable t) {
        log.error("finishing {} download(s) failed", batch.size(), t);
      } finally {
        for (Finished f : batch) {
          long id = f.row().id();
          finalizing.remove(id);
          if (!closed && !recorded.contains(id)) {
            control.execute(() -> schedule(id)); // not completed here: decide again what it does next
          }
        }
        batch.clear();
        recorded.clear();
      }
    }
  }

  /**
   * Makes a batch of finished downloads durable: every part file synced (in parallel, so the file system merges the
   * flushes), moved into place, each folder synced once, then every completion and its events committed together.
   * The ids whose completion was committed are added to {@code recorded}.
   */
  private void finalizeBatch(List<Finished> batch, Set<Long> recorded) throws Exception {
    long started = System.nanoTime();
    List<java.util.concurrent.Callable<IOException>> syncs = new ArrayList<>();
    for (Finished f : batch) {
      syncs.add(() -> {
        if (alreadyMoved(f)) {
          return null;
        }
        try (FileChannel ch = FileChannel.open(f.part(), StandardOpenOption.WRITE)) {
          ch.force(true);
          return null;
        } catch (IOException e) {
          return e;
        }
      });
    }
    List<java.util.concurrent.Future<IOException>> synced = syncPool.invokeAll(syncs);
    long syncedAt = System.nanoTime();
    List<Path> files = new ArrayList<>();
    Set<Path> folders = new java.util.HashSet<>();
    for (int i = 0; i < batch.size(); i++) {
      Finished f = batch.get(i);
      TransferRow r = f.row();
      IOException problem = synced.get(i).get();
      Path file = null;
      if (problem == null) {
        try {
          file = alreadyMoved(f) ? dir.resolve("transfer-" + r.id() + ".download")
              : r.destination() != null ? moveToDestination(f.part(), Path.of(r.destination()))
              : moveInto(f.part(), dir.resolve("transfer-" + r.id() + ".download"));
          folders.add(file.getParent());
        } catch (IOException e) {
          problem = e;
        }
      }
      if (problem != null) {
        String m = String.valueOf(problem.getMessage());
        Path where = r.destination() != null ? Path.of(r.destination()) : dir.resolve("transfer-" + r.id() + ".download");
        if (HttpAttempt.isNoSpace(problem)) {
          finish(r, new HttpAttempt.Fail(ErrorCode.INSUFFICIENT_SPACE, "the finished download (" + HttpAttempt.mib(f.bytes())
              + ") could not be stored at " + where + ": no space left on the disk holding " + where.getParent() + "; free at least "
              + HttpAttempt.mib(f.bytes()) + " there" + (r.destination() == null ? "" : " or choose a destination on another disk")
              + ", then start the download again", f.status()));
        } else {
          finish(r, new HttpAttempt.Fail(ErrorCode.FILE_ACCESS_DENIED, "the finished download could not be stored at " + where + ": " + m
              + "; check that tetherd may write there, then start the download again", f.status()));
        }
      }
      files.add(file);
    }
    List<java.util.concurrent.Callable<Void>> dirSyncs = new ArrayList<>();
    for (Path folder : folders) {
      dirSyncs.add(() -> {
        fsyncDir(folder);
        return null;
      });
    }
    syncPool.invokeAll(dirSyncs);
    for (int i = 0; i < batch.size(); i++) {
      if (files.get(i) != null) {
        beforeRecordingFinished.accept(batch.get(i).row().id());
      }
    }
    List<CompletableFuture<Boolean>> commits = new ArrayList<>();
    for (int i = 0; i < batch.size(); i++) {
      Finished f = batch.get(i);
      Path file = files.get(i);
      if (file == null) {
        commits.add(CompletableFuture.completedFuture(false));
        continue;
      }
      TransferRow r = f.row();
      boolean moved = r.destination() != null;
      SessionKey key = new SessionKey(r.appId(), r.session());
      commits.add(store.write(c -> {
        TransferRow now = loadTx(c, r.id());
        // a suspend that came after the whole body had arrived does not throw it away: the transfer completes
        if (now == null || !(TransferRow.RUNNING.equals(now.state()) || TransferRow.SUSPENDED.equals(now.state()))) {
          return false;
        }
        // one update, and both events' snapshots made from the row as each step leaves it (no reads in between)
        update(c, "UPDATE transfers SET bytes_done = ?, total_bytes = ?, state = 'COMPLETED', phase = 'ready',"
            + " error_code = NULL, error_message = NULL, status = CASE WHEN ? > 0 THEN ? ELSE status END, completed_at = ?,"
            + " credential = NULL WHERE id = ?", f.bytes(), f.bytes(), f.status(), f.status(), clock.now().toEpochMilli(), r.id());
        TransferRow withBody = now.withBody(f.bytes());
        ObjectNode finished = Json.object();
        ObjectNode snapshot = snapshot(withBody);
        snapshot.put("state", TransferRow.RUNNING);
        finished.set("transfer", snapshot);
        finished.put("file", file.toString());
        finished.put("moved", moved);
        ObjectNode completed = Json.object();
        completed.set("transfer", snapshot(withBody.completedOk(f.status(), f.bytes())));
        addEvents(c, key, new NewEvent("downloadFinished", r.id(), finished, file.toString()),
            new NewEvent("completed", r.id(), completed, null));
        return true;
      }));
    }
    Set<SessionKey> touched = new java.util.LinkedHashSet<>();
    for (int i = 0; i < batch.size(); i++) {
      Path file = files.get(i);
      if (file == null) {
        continue;
      }
      boolean done;
      try {
        done = Store.await(commits.get(i));
      } catch (RuntimeException e) {
        log.error("transfer {}: recording its completion failed", batch.get(i).row().id(), e);
        done = false;
      }
      TransferRow r = batch.get(i).row();
      if (done) {
        recorded.add(r.id());
        touched.add(new SessionKey(r.appId(), r.session()));
      } else if (r.destination() == null) {
        Files.deleteIfExists(file);
      }
    }
    for (SessionKey k : touched) {
      afterEvents(k, "transfers finished");
    }
    long ms = (System.nanoTime() - started) / 1_000_000;
    if (batch.size() > 1 || ms > 100) {
      log.info("finished {} download(s): synced in {} ms, stored and recorded in {} ms", batch.size(),
          (syncedAt - started) / 1_000_000, ms - (syncedAt - started) / 1_000_000);
    }
  }

  /** The daemon stopped after moving this download's file into place but before recording it. */
  private boolean alreadyMoved(Finished f) {
    return f.row().destination() == null && !Files.exists(f.part()) && Files.exists(dir.resolve("transfer-" + f.row().id() + ".download"));
  }

  /** Forgets completed transfers older than {@link #COMPLETED_TTL} that no unacknowledged event refers to. */
  private void prune(long now) {
    store.write(c -> update(c, "DELETE FROM transfers WHERE state = 'COMPLETED' AND completed_at < ? AND id NOT IN"
        + " (SELECT transfer_id FROM transfer_events WHERE transfer_id IS NOT NULL)", now - COMPLETED_TTL.toMillis()))
        .whenComplete((n, e) -> {
          if (e != null) {
            log.warn("pruning completed transfers failed", e);
          } else if (n > 0) {
            log.info("forgot {} transfer(s) completed more than {} h ago", n, COMPLETED_TTL.toHours());
          }
        });
  }

  private Path moveInto(Path part, Path target) throws IOException {
    Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return target; // the caller syncs the folder, once per batch
  }

  private Path moveToDestination(Path part, Path dest) throws IOException {
    try {
      Files.move(part, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      // another file system: copy beside the destination, sync, then rename into place
      Path tmp = dest.resolveSibling("." + dest.getFileName() + ".tether-" + UUID.randomUUID() + ".tmp");
      try {
        Files.copy(part, tmp);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
          ch.force(true);
        }
        Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
      Files.deleteIfExists(part);
    }
    return dest; // the caller syncs the folder, once per batch
  }

  private static void fsyncDir(Path d) {
    try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      log.debug("fsync of folder {} failed: {}", d, e.toString());
    }
  }

  /**
   * Marks the transfer completed (with or without an error) and records its {@code completed} event, once: returns
   * false when it had completed before.
   */
  private boolean completeTx(Connection c, long id, ErrorCode code, String message, int status, long bytes, String unused) throws SQLException {
    TransferRow r = loadTx(c, id);
    if (r == null || TransferRow.COMPLETED.equals(r.state())) {
      return false;
    }
    update(c, "UPDATE transfers SET state = 'COMPLETED', phase = 'ready', error_code = ?, error_message = ?,"
        + " status = CASE WHEN ? > 0 THEN ? ELSE status END, bytes_done = CASE WHEN ? >= 0 THEN ? ELSE bytes_done END,"
        + " completed_at = ?, credential = NULL WHERE id = ?",
        code == null ? null : code.name(), message, status, status, bytes, bytes, clock.now().toEpochMilli(), id);
    ObjectNode ev = Json.object();
    ev.set("transfer", snapshotTx(c, id, null));
    if (code != null) {
      ObjectNode e = ev.putObject("error");
      e.put("code", code.name());
      e.put("message", message);
    }
    addEvent(c, new SessionKey(r.appId(), r.session()), "completed", id, ev, null);
    return true;
  }

  /** Adds {@code eventsFinished} when the session has no running transfer and every earlier event was acknowledged. */
  private void checkFinished(Connection c, SessionKey key) throws SQLException {
    if (count(c, "SELECT EXISTS (SELECT 1 FROM transfer_events WHERE app_id = ? AND session = ?)", key) > 0
        || count(c, "SELECT EXISTS (SELECT 1 FROM transfers WHERE app_id = ? AND session = ? AND state = 'RUNNING')", key) > 0) {
      return;
    }
    PreparedStatement p = statements.get(c, "SELECT last_event_type FROM transfer_sessions WHERE app_id = ? AND identifier = ?");
    p.setString(1, key.app());
    p.setString(2, key.id());
    try (ResultSet rs = p.executeQuery()) {
      if (!rs.next() || rs.getString(1) == null || "eventsFinished".equals(rs.getString(1))) {
        return;
      }
    }
    addEvent(c, key, "eventsFinished", null, Json.object(), null);
  }

  /** An event to store: its type, the transfer it is about (if any), its body and the file it hands over (if any). */
  private record NewEvent(String type, Long transferId, ObjectNode body, String file) {}

  private void addEvent(Connection c, SessionKey key, String type, Long transferId, ObjectNode body, String file) throws SQLException {
    addEvents(c, key, new NewEvent(type, transferId, body, file));
  }

  /** Stores {@code events} with the session's next sequence numbers, in order (one read and one update of the session). */
  private void addEvents(Connection c, SessionKey key, NewEvent... events) throws SQLException {
    long seq;
    PreparedStatement p = statements.get(c, "SELECT next_seq FROM transfer_sessions WHERE app_id = ? AND identifier = ?");
    p.setString(1, key.app());
    p.setString(2, key.id());
    try (ResultSet rs = p.executeQuery()) {
      if (!rs.next()) {
        throw new SQLException("no session " + key);
      }
      seq = rs.getLong(1);
    }
    update(c, "UPDATE transfer_sessions SET next_seq = ?, last_event_type = ? WHERE app_id = ? AND identifier = ?",
        seq + events.length, events[events.length - 1].type(), key.app(), key.id());
    PreparedStatement insert = statements.get(c, "INSERT INTO transfer_events(app_id, session, seq, type, transfer_id, body,"
        + " file, created_at) VALUES (?,?,?,?,?,?,?,?)");
    long now = clock.now().toEpochMilli();
    for (NewEvent e : events) {
      insert.setString(1, key.app());
      insert.setString(2, key.id());
      insert.setLong(3, seq++);
      insert.setString(4, e.type());
      if (e.transferId() == null) {
        insert.setNull(5, java.sql.Types.INTEGER);
      } else {
        insert.setLong(5, e.transferId());
      }
      insert.setString(6, Json.write(e.body()));
      insert.setString(7, e.file());
      insert.setLong(8, now);
      insert.executeUpdate();
    }
  }

  /** After a commit that added events: deliver them, and wake the app if none of its connections has the session open. */
  private void afterEvents(SessionKey key, String reason) {
    schedulePump(key);
    boolean anyRunning = store.read(c -> count(c, "SELECT EXISTS (SELECT 1 FROM transfers WHERE app_id = ? AND session = ? AND state = 'RUNNING')", key) > 0);
    if (!anyRunning) {
      maybeWake(key, reason);
    }
  }

  private void maybeWake(SessionKey key, String reason) {
    Map<Long, Opener> m = openers.get(key);
    if (m != null && !m.isEmpty()) {
      return;
    }
    SessionConfig cfg = sessionConfig(key);
    if (cfg == null || !cfg.sendsLaunchEvents()) {
      return;
    }
    try {
      ctx.backgroundWork().urlSessionNeedsApp(key.app(), key.id(), reason);
    } catch (IllegalStateException e) {
      log.debug("session {} of {} needs its app ({}), but no task service runs: {}", key.id(), key.app(), reason, e.getMessage());
    } catch (RuntimeException e) {
      log.warn("asking to wake {} for session {} failed", key.app(), key.id(), e);
    }
  }

  /**
   * Has the events thread pump {@code key} once more, unless a pump of it is already waiting there: that one reads
   * every event committed before it starts, so a burst of commits and acknowledgements costs one pump, not one each.
   */
  private void schedulePump(SessionKey key) {
    if (pumpsPending.add(key)) {
      events.execute(() -> {
        pumpsPending.remove(key);
        pump(key);
      });
    }
  }

  /** Pushes every committed event each opener has not been sent yet, in sequence order. Runs on the events thread. */
  private void pump(SessionKey key) {
    Map<Long, Opener> m = openers.get(key);
    if (m == null || m.isEmpty()) {
      return;
    }
    for (Opener op : m.values()) {
      if (!op.conn.isOpen()) {
        m.remove(op.conn.id());
        continue;
      }
      while (true) {
        long after = op.lastPushed;
        boolean more = op.batches ? pushBatch(key, op, after) : pushEach(key, op, after) == PUMP_BATCH;
        if (!more) {
          break;
        }
      }
    }
  }

  private static final int PUMP_BATCH = 500;
  /** A {@code transfer.events} frame stops growing past this much event text (far below the frame limit). */
  private static final int PUMP_BATCH_CHARS = 1 << 20;

  /**
   * Pushes the next events after {@code after} as one {@code transfer.event} frame each (for clients that did not ask
   * for batches); returns how many.
   */
  private int pushEach(SessionKey key, Opener op, long after) {
    List<ObjectNode> batch = store.read(c -> {
      List<ObjectNode> out = new ArrayList<>();
      PreparedStatement p = statements.get(c, "SELECT seq, type, body, file FROM transfer_events"
          + " WHERE app_id = ? AND session = ? AND seq > ? ORDER BY seq LIMIT " + PUMP_BATCH);
      p.setString(1, key.app());
      p.setString(2, key.id());
      p.setLong(3, after);
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          ObjectNode o = Json.parseObject(rs.getString(3));
          o.put("session", key.id());
          o.put("seq", rs.getLong(1));
          o.put("type", rs.getString(2));
          out.add(o);
        }
      }
      return out;
    });
    for (ObjectNode o : batch) {
      op.conn.push("transfer.event", o);
      op.lastPushed = o.get("seq").asLong();
    }
    return batch.size();
  }

  /**
   * Pushes the next events after {@code after} in one {@code transfer.events} frame, {@code {"session", "events":
   * [EVENT...]}}, each EVENT the stored body with its {@code seq} and {@code type} put in front (text spliced, not
   * parsed and written again), at most {@value #PUMP_BATCH} events or about {@value #PUMP_BATCH_CHARS} characters;
   * returns whether more may be waiting.
   */
  private boolean pushBatch(SessionKey key, Opener op, long after) {
    long[] last = {after};
    boolean[] more = {false};
    ArrayNode events = store.read(c -> {
      ArrayNode out = Json.array();
      PreparedStatement p = statements.get(c, "SELECT seq, type, body, file FROM transfer_events"
          + " WHERE app_id = ? AND session = ? AND seq > ? ORDER BY seq LIMIT " + PUMP_BATCH);
      p.setString(1, key.app());
      p.setString(2, key.id());
      p.setLong(3, after);
      long chars = 0;
      try (ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          long seq = rs.getLong(1);
          String text = eventText(seq, rs.getString(2), rs.getString(3));
          out.add(Json.raw(text));
          last[0] = seq;
          chars += text.length();
          if (chars >= PUMP_BATCH_CHARS) {
            break; // the rest goes in the next frame
          }
        }
      }
      more[0] = out.size() == PUMP_BATCH || chars >= PUMP_BATCH_CHARS;
      return out;
    });
    if (!events.isEmpty()) {
      ObjectNode o = Json.object();
      o.put("session", key.id());
      o.set("events", events);
      op.conn.push("transfer.events", o);
      op.lastPushed = last[0];
    }
    return more[0];
  }

  /** A stored event body (a JSON object's text) with {@code seq} and {@code type} in front. */
  static String eventText(long seq, String type, String body) {
    StringBuilder b = new StringBuilder(body.length() + 40).append("{\"seq\":").append(seq).append(",\"type\":");
    if (type.chars().allMatch(ch -> ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z')) {
      b.append('"').append(type).append('"'); // every event type is a plain name
    } else {
      b.append(Json.write(com.fasterxml.jackson.databind.node.TextNode.valueOf(type)));
    }
    String rest = body.strip();
    if (!rest.startsWith("{") || !rest.endsWith("}")) {
      throw new IllegalStateException("stored event " + seq + " is not a JSON object");
    }
    rest = rest.substring(1).strip();
    return b.append(rest.equals("}") ? "" : ",").append(rest).toString();
  }

  // ---------------------------------------------------------------------------------------------------- files

  private void removeStaleFiles() throws IOException {
    Set<String> keep = store.read(c -> {
      Set<String> s = new java.util.HashSet<>();
      try (PreparedStatement p = c.prepareStatement("SELECT temp_file FROM transfers WHERE state != 'COMPLETED' AND temp_file IS NOT NULL");
           ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          s.add(rs.getString(1));
        }
      }
      try (PreparedStatement p = c.prepareStatement("SELECT file FROM transfer_events WHERE file IS NOT NULL"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          s.add(Path.of(rs.getString(1)).getFileName().toString());
        }
      }
      try (PreparedStatement p = c.prepareStatement("SELECT id FROM transfers WHERE state = 'RUNNING' AND kind = 'download'"); ResultSet rs = p.executeQuery()) {
        while (rs.next()) {
          s.add("transfer-" + rs.getLong(1) + ".download");
        }
      }
      return s;
    });
    long cutoff = System.currentTimeMillis() - RESUME_FILE_TTL.toMillis();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        boolean stale;
        if (name.startsWith("resume-")) {
          stale = Files.getLastModifiedTime(p).toMillis() < cutoff;
        } else {
          stale = (name.endsWith(".part") || name.endsWith(".download")) && !keep.contains(name);
        }
        if (stale) {
          log.info("removing stale transfer file {}", p);
          Files.deleteIfExists(p);
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------- db helpers

  TransferRow load(long id) {
    return store.read(c -> loadTx(c, id));
  }

  /** The transfer's state alone (null when there is no such transfer): cheaper than its whole row. */
  private String state(long id) {
    return store.read(c -> {
      PreparedStatement p = statements.get(c, "SELECT state FROM transfers WHERE id = ?");
      p.setLong(1, id);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    });
  }

  private TransferRow loadTx(Connection c, long id) throws SQLException {
    PreparedStatement p = statements.get(c, "SELECT " + TransferRow.COLUMNS + " FROM transfers WHERE id = ?");
    p.setLong(1, id);
    try (ResultSet rs = p.executeQuery()) {
      return rs.next() ? TransferRow.from(rs) : null;
    }
  }

  private ObjectNode snapshotTx(Connection c, long id, String stateOverride) throws SQLException {
    ObjectNode o = snapshot(loadTx(c, id));
    if (stateOverride != null) {
      o.put("state", stateOverride);
    }
    return o;
  }

  private ObjectNode snapshot(TransferRow r) {
    Running run = running.get(r.id());
    long live = run != null && TransferRow.RUNNING.equals(r.state()) ? run.bytes : -1;
    String waiting = null;
    if (TransferRow.RUNNING.equals(r.state())) {
      long now = clock.now().toEpochMilli();
      if (TransferRow.CHALLENGE.equals(r.phase())) {
        waiting = "authentication";
      } else if (r.earliestBegin() != null && r.earliestBegin() > now) {
        waiting = "earliestBeginDate";
      } else if (r.nextAttemptAt() > now) {
        waiting = "retry";
      } else if (waitingNetwork.contains(r.id())) {
        waiting = "network";
      } else if (waitingConditions.contains(r.id())) {
        waiting = "conditions";
      } else if (run == null && queued.contains(r.id())) {
        waiting = "connection";
      }
    }
    return r.toJson(live, waiting);
  }

  private static List<TransferRow> rows(PreparedStatement p) throws SQLException {
    List<TransferRow> out = new ArrayList<>();
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(TransferRow.from(rs));
      }
    }
    return out;
  }

  private static List<Long> ids(Connection c, String sql) throws SQLException {
    try (PreparedStatement p = c.prepareStatement(sql)) {
      return ids(p);
    }
  }

  private static List<Long> ids(PreparedStatement p) throws SQLException {
    List<Long> out = new ArrayList<>();
    try (ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(rs.getLong(1));
      }
    }
    return out;
  }

  private static List<SessionKey> sessionsWithEvents(Connection c) throws SQLException {
    List<SessionKey> out = new ArrayList<>();
    try (PreparedStatement p = c.prepareStatement("SELECT DISTINCT app_id, session FROM transfer_events"); ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        out.add(new SessionKey(rs.getString(1), rs.getString(2)));
      }
    }
    return out;
  }

  /** Runs a constant query with the session's app and identifier as its two parameters; its first column. */
  private long count(Connection c, String sql, SessionKey key) throws SQLException {
    PreparedStatement p = statements.get(c, sql);
    p.setString(1, key.app());
    p.setString(2, key.id());
    try (ResultSet rs = p.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** Runs a constant statement with {@code args} as its parameters, in order. */
  private int update(Connection c, String sql, Object... args) throws SQLException {
    PreparedStatement p = statements.get(c, sql);
    for (int i = 0; i < args.length; i++) {
      p.setObject(i + 1, args[i]);
    }
    return p.executeUpdate();
  }

  @Override
  public void close() {
    closed = true;
    if (localHosts != null) {
      localHosts.close();
    }
    for (Running r : running.values()) {
      r.attempt.stop();
    }
    for (TetherClock.Timer t : timers.values()) {
      t.cancel();
    }
    if (finisher != null) {
      finisher.interrupt();
    }
    if (progressTimer != null) {
      progressTimer.shutdownNow();
    }
    for (ExecutorService e : List.of(workers, control, events, flusher, syncPool)) {
      if (e != null) {
        e.shutdown();
      }
    }
    try {
      if (workers != null) {
        workers.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (http != null) {
      try {
        http.close();
      } catch (IOException e) {
        log.debug("closing the HTTP client: {}", e.toString());
      }
    }
  }

  /** The opaque resume data a cancelled download hands out: where its bytes are kept and how to validate them. */
  private static final class ResumeData {
    final String url;
    final String etag;
    final String lastModified;
    final long bytes;
    final long total;
    final Path file;

    ResumeData(String url, String etag, String lastModified, long bytes, long total, Path file) {
      this.url = url;
      this.etag = etag;
      this.lastModified = lastModified;
      this.bytes = bytes;
      this.total = total;
      this.file = file;
    }

    String encode() {
      ObjectNode o = Json.object();
      o.put("v", 1);
      o.put("url", url);
      o.put("etag", etag);
      o.put("lastModified", lastModified);
      o.put("bytes", bytes);
      o.put("total", total);
      o.put("file", file.getFileName().toString());
      return Base64.getEncoder().encodeToString(Json.write(o).getBytes(StandardCharsets.UTF_8));
    }

    static ResumeData decode(String data, Path dir) {
      ObjectNode o;
      try {
        o = Json.parseObject(new String(Base64.getDecoder().decode(data), StandardCharsets.UTF_8));
      } catch (RuntimeException e) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data is not resume data Tether produced");
      }
      String name = o.path("file").asText("");
      if (o.path("v").asInt() != 1 || !name.matches("resume-[0-9a-f-]+\\.part") || !o.hasNonNull("url")) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data is not resume data Tether produced");
      }
      Path f = dir.resolve(name);
      if (!Files.exists(f)) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data was used before or has expired; start a new download");
      }
      return new ResumeData(o.get("url").asText(), o.hasNonNull("etag") ? o.get("etag").asText() : null,
          o.hasNonNull("lastModified") ? o.get("lastModified").asText() : null, o.path("bytes").asLong(), o.path("total").asLong(-1), f);
    }
  }
}
