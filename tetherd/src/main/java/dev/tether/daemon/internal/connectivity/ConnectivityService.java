package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.link.Identity;
import dev.tether.daemon.internal.link.LinkManager.Peer;
import dev.tether.daemon.internal.link.LinkManager;
import dev.tether.daemon.internal.link.PairingRequests;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.daemon.internal.link.RelayRequests;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.store.Store;
import dev.tether.protocol.Frame;
import dev.tether.protocol.TetherPaths;
import dev.tether.protocol.wire.ConnectivityFrame;
import dev.tether.protocol.wire.ConnectivityOp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the daemon's start and close and on the threads of the callbacks it routes (IPC readers, link readers),
 * handing each to the lane that owns it: the coordinator of paired-device connectivity ({@code WCSession}), which only
 * wires its lanes. Pairing and links (through {@link LinkManager}), and per app the
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
 * <p><b>Threads.</b> The connectivity executor ({@code exec},
 * {@code tether-connectivity}) is the one serial owner of the activated sessions ({@link Sessions}: others read only
 * their published snapshot), the per-app delivery state ({@link AppDeliveries}) and the delivery of held live messages
 * ({@link LiveMessages}); IPC readers, link readers ({@link PeerFrames}) and store completions hand it work with
 * {@code execute}. Each link's {@link Sender} owns its cursors and in-flight sets (under its locks) on its
 * {@code tether-cx-send-*} and {@code tether-cx-files-*} threads; each peer's {@link FileReceiver} is driven by that
 * link's reader. Rows are written through {@link GroupWriter}s on the store's writer thread; every store's SQL is in
 * {@link OutboxStore}, {@link InboxStore}, {@link ContextStore}, {@link FailureStore} and {@link AppStore}.
 */
public final class ConnectivityService implements DaemonService, LinkManager.Listener {
  private static final Logger log = LoggerFactory.getLogger(ConnectivityService.class);

  private DaemonContext context;
  private Store store;
  private Path outDir;
  private Path inDir;
  /** The serial owner of the sessions, the deliveries and held messages (see the class comment). */
  private final ExecutorService exec = Threads.serial("tether-connectivity");
  private LinkManager links;
  private PairingRequests pairingRequests;
  private RelayRequests relayRequests;

  // state shared by lanes, each documented in its class
  private final Sessions sessions = new Sessions();
  private final CounterpartApps counterpart = new CounterpartApps();
  private final OutgoingStates fileStates = new OutgoingStates();
  /** The sender of each peer's link (replaced on each new link). */
  private final Map<String, Sender> senders = new ConcurrentHashMap<>();
  /** The file receiver of each peer. */
  private final Map<String, FileReceiver> fileReceivers = new ConcurrentHashMap<>();
  private final PeerFrames peerFrames = peerFrames();

  // stores
  private OutboxStore outbox;
  private AppStore apps;
  private FailureStore failureStore;
  private ContextStore contextStore;
  private GroupWriter<OutboxStore.Outgoing, Long> outboxWriter;

  // lanes
  private Activations activations;
  private UserInfoLane userInfo;
  private ApplicationContexts contexts;
  private FileCaptures captures;
  private Outstanding outstanding;
  private OutboxAcks acks;
  private LowAnnouncer lows;
  private Inbox inbox;
  private AppDeliveries deliveries;
  private DeliveryFailures failures;
  private LiveMessages messages;

  @Override
  public List<Migration> migrations() {
    return ConnectivitySchema.migrations();
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
    InboxStore inboxStore = new InboxStore(store);
    inbox = new Inbox(store, inboxStore, exec, this::arrived);
    deliveries = new AppDeliveries(store, inboxStore, exec, this::drained);
    failureStore = new FailureStore(store);
    failures = new DeliveryFailures(failureStore, sessions, exec);
    contextStore = new ContextStore(store);
    contexts = new ApplicationContexts(contextStore, exec, this::requireCounterpart, this::wakeSender, app -> {
      deliveries.contextReplaced(app);
      arrived(app);
    });
    long heartbeat = Long.getLong("tether.link.heartbeatMillis", envLong("TETHER_LINK_HEARTBEAT_MS", 1000));
    links = new LinkManager(store, Identity.loadOrCreate(ctx.home().resolve("link")), this, heartbeat, heartbeat * 5);
    messages = new LiveMessages(ctx, links, counterpart, sessions, this::wake);
    outstanding = new Outstanding(outbox, fileStates, links);
    lows = new LowAnnouncer(outbox, exec, ctx.clock());
    userInfo = new UserInfoLane(outbox, outboxWriter, links, counterpart, ctx.clock(), this::requireCounterpart, this::wakeSender);
    activations = new Activations(exec, sessions, apps, deliveries, messages, failures, contexts, userInfo, links, counterpart,
        this::drained);
    acks = new OutboxAcks(outbox, senders, fileStates, sessions, lows, exec);
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
          exec.execute(() -> activations.sessionClosed(c));
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
    ipc.register(ConnectivityOp.ACTIVATE, Activations.ActivateRequest::parse, (c, r) -> onExec(() -> activations.activate(c, r)));
    ipc.register(ConnectivityOp.STATE, Activations.NoRequest::parse, (c, r) -> onExec(() -> activations.state(c.appId())));
    ipc.register(ConnectivityOp.USER_INFO, UserInfoLane.Request::parse, userInfo::transfer);
    ipc.register(ConnectivityOp.USER_INFO_BATCH, UserInfoLane.BatchRequest::parse, userInfo::transferBatch);
    ipc.register(ConnectivityOp.CONTEXT, ApplicationContexts.UpdateRequest::parse, contexts::update);
    ipc.register(ConnectivityOp.FILE, FileCaptures.FileRequest::parse, captures::transferFile);
    ipc.register(ConnectivityOp.OUTSTANDING, Outstanding.PageRequest::parse, outstanding::page);
    ipc.register(ConnectivityOp.CANCEL, Outstanding.CancelRequest::parse, outstanding::cancel);
    ipc.register(ConnectivityOp.ACK, AppDeliveries.AckRequest::parse, deliveries::ack);
    ipc.register(ConnectivityOp.FAILED_ACK, DeliveryFailures.AckRequest::parse, failures::acknowledged);
    ipc.register(ConnectivityOp.MESSAGE, LiveMessages.SendRequest::parse, messages::send);
    ipc.register(ConnectivityOp.REPLY, LiveMessages.ReplyRequest::parse, messages::reply);
  }

  private <T> CompletableFuture<T> onExec(java.util.concurrent.Callable<T> work) {
    return dev.tether.daemon.internal.Threads.on(exec, work);
  }

  private String requireCounterpart() {
    return links.counterpart().map(Peer::fingerprint).orElseThrow(() -> new TetherException(ErrorCode.DEVICE_NOT_PAIRED,
        "this device is not paired; pair it with 'tether pair listen' and 'tether pair connect'"));
  }

  // ---------------------------------------------------------------------------------------------- sessions

  // ---------------------------------------------------------------------------------------------- sending

  // ---------------------------------------------------------------------------------------------- peer links

  @Override
  public void linkUp(PeerLink link) {
    inbox.linkUp(link);
    activations.sendApps(link);
    Sender s = new Sender(link, outbox, contextStore, sessions, fileStates);
    Sender old = senders.put(link.peer(), s);
    if (old != null) {
      old.stop();
    }
    s.start();
    lows.announceLow(link);
    activations.broadcastState();
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
    activations.broadcastState();
  }

  @Override
  public void activePeerChanged(String oldPeer, String newPeer) {
    exec.execute(() -> activations.peerChanged(oldPeer, newPeer));
    activations.broadcastState();
  }

  @Override
  public void unpaired(String peer) {
    failures.failQueuedFor(peer);
    activations.broadcastState();
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
        .on(ConnectivityFrame.ACK, (link, f, a) -> acks.acked(link, f.body()))
        .on(ConnectivityFrame.LOW, (link, f, a) -> inbox.receiveLow(link, f.body().path("low").asLong()))
        .on(ConnectivityFrame.ITEMS_REFUSED, (link, f, a) -> acks.refused(link, f.body()))
        .on(ConnectivityFrame.ITEMS_RETRY, (link, f, a) -> inbox.retry(link))
        .on(ConnectivityFrame.CTX, (link, f, a) -> contexts.received(link, f.body()))
        .on(ConnectivityFrame.CTX_ACK, (link, f, a) -> contexts.acked(f.body()))
        .on(ConnectivityFrame.APPS, (link, f, a) -> activations.appsTold(link, f.body()))
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

  /** Runs on exec once new inbox rows for {@code app} are committed: deliver, or wake the app. */
  private void arrived(String app) {
    if (sessions.current(app) == null) {
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
