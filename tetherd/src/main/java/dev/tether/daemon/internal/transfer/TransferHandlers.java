package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.BackgroundWork;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts on the connection's reader thread with the parsed request and continues after its store write on the
 * transfer control executor ({@code tether-transfer-ctl}), which owns scheduling: every transfer operation but creation
 * ({@link TransferCreator}).
 */
final class TransferHandlers {
  private static final Logger log = LoggerFactory.getLogger(TransferHandlers.class);
  /** The CLI acts for the user: it may list and cancel every app's transfers and set conditions. */
  static final String CLI_APP_ID = "dev.tether.cli";

  private final TransferStore store;
  private final TetherClock clock;
  private final Path dir;
  private final Sessions sessions;
  private final Scheduler scheduler;
  private final NetworkWatch network;
  private final AttemptRunner runner;
  private final SessionEvents events;
  private final EventPump pump;
  private final TransferView view;
  private final Conditions conditions;
  private final TransferCreator creator;
  private final ExecutorService control;
  private final Supplier<BackgroundWork> backgroundWork;

  TransferHandlers(TransferStore store, TetherClock clock, Path dir, Sessions sessions, Scheduler scheduler,
      NetworkWatch network, AttemptRunner runner, SessionEvents events, EventPump pump, TransferView view,
      Conditions conditions, TransferCreator creator, ExecutorService control, Supplier<BackgroundWork> backgroundWork) {
    this.store = store;
    this.clock = clock;
    this.dir = dir;
    this.sessions = sessions;
    this.scheduler = scheduler;
    this.network = network;
    this.runner = runner;
    this.events = events;
    this.pump = pump;
    this.view = view;
    this.conditions = conditions;
    this.creator = creator;
    this.control = control;
    this.backgroundWork = backgroundWork;
  }

  void register(IpcServer ipc) {
    ipc.register(TransferOp.SESSION_OPEN, TransferRequests.Open::parse, this::openSession);
    ipc.register(TransferOp.SESSION_CLOSE, TransferRequests.Close::parse, this::closeSession);
    ipc.register(TransferOp.DOWNLOAD, TransferRequests.Create::parse, (c, r) -> creator.create(c, r, "download"));
    ipc.register(TransferOp.UPLOAD, TransferRequests.Create::parse, (c, r) -> creator.create(c, r, "upload"));
    ipc.register(TransferOp.LIST, TransferRequests.ListTransfers::parse, this::list);
    ipc.register(TransferOp.GET, TransferRequests.ById::parse,
        (c, r) -> CompletableFuture.completedFuture(view.snapshot(requireTransfer(c, r.id()))));
    ipc.register(TransferOp.SUSPEND, TransferRequests.ById::parse, this::suspend);
    ipc.register(TransferOp.RESUME, TransferRequests.ById::parse, this::resume);
    ipc.register(TransferOp.CANCEL, TransferRequests.Cancel::parse, this::cancel);
    ipc.register(TransferOp.ACK, TransferRequests.Ack::parse, this::ack);
    ipc.register(TransferOp.CONDITIONS, TransferRequests.Conditions::parse, this::conditions);
  }

  private CompletableFuture<ObjectNode> openSession(ClientConnection conn, TransferRequests.Open req) {
    SessionConfig cfg = req.configuration();
    SessionKey key = new SessionKey(conn.appId(), req.session());
    long now = clock.now().toEpochMilli();
    return store.saveSession(key, cfg, now).thenApplyAsync(v -> {
      sessions.opened(key, cfg);
      pump.open(key, conn, req.eventBatches());
      try {
        backgroundWork.get().urlSessionOpened(key.app(), key.id());
      } catch (IllegalStateException e) {
        log.debug("no task service to tell that session {} of {} was opened", key.id(), key.app());
      }
      boolean idle = store.idle(key);
      pump.schedulePump(key);
      scheduler.recheckConditions();
      ObjectNode o = Json.object();
      o.put("session", req.session());
      o.put("idle", idle);
      o.set("configuration", cfg.toJson());
      return o;
    }, control);
  }

  private CompletableFuture<ObjectNode> closeSession(ClientConnection conn, TransferRequests.Close req) {
    SessionKey key = sessions.require(conn.appId(), req.session());
    pump.close(key, conn.id());
    if (!req.cancel()) {
      return CompletableFuture.completedFuture(Json.object());
    }
    List<Long> ids = store.unfinished(key);
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

  private CompletableFuture<ObjectNode> list(ClientConnection conn, TransferRequests.ListTransfers req) {
    boolean all = req.allApps();
    if (all && !CLI_APP_ID.equals(conn.appId())) {
      throw new TetherException(ErrorCode.PERMISSION_DENIED, "only the tether CLI may list every app's transfers");
    }
    String session = req.hasSession() ? TransferRequests.checkSession(req.session()) : null;
    if (session != null) {
      sessions.require(conn.appId(), session);
    }
    ArrayNode arr = Json.array();
    for (TransferRow r : store.list(all, conn.appId(), session)) {
      arr.add(view.snapshot(r));
    }
    ObjectNode o = Json.object();
    o.set("transfers", arr);
    return CompletableFuture.completedFuture(o);
  }

  private TransferRow requireTransfer(ClientConnection conn, long id) {
    TransferRow r = store.load(id);
    if (r == null || !(r.appId().equals(conn.appId()) || CLI_APP_ID.equals(conn.appId()))) {
      throw new TetherException(ErrorCode.UNKNOWN_TRANSFER, CLI_APP_ID.equals(conn.appId())
          ? "there is no transfer " + id + "; 'tether transfers' lists them"
          : "app " + conn.appId() + " has no transfer " + id + "; list yours with allTransfers() or 'tether transfers'");
    }
    return r;
  }

  private CompletableFuture<ObjectNode> suspend(ClientConnection conn, TransferRequests.ById req) {
    TransferRow r = requireTransfer(conn, req.id());
    if (TransferRow.COMPLETED.equals(r.state())) {
      throw new TetherException(ErrorCode.INVALID_STATE, "transfer " + r.id() + " has completed; it cannot be suspended");
    }
    AttemptRunner.Running run = runner.running(r.id());
    long bytes = run != null && run.bytes >= 0 ? run.bytes : r.bytesDone();
    return store.suspend(r.id(), bytes).thenApplyAsync(n -> {
      runner.stop(r.id());
      scheduler.forget(r.id());
      return view.snapshot(store.load(r.id()));
    }, control);
  }

  private CompletableFuture<ObjectNode> resume(ClientConnection conn, TransferRequests.ById req) {
    TransferRow r = requireTransfer(conn, req.id());
    if (TransferRow.COMPLETED.equals(r.state())) {
      throw new TetherException(ErrorCode.INVALID_STATE, "transfer " + r.id() + " has completed; start a new one instead");
    }
    return store.resume(r.id()).thenApplyAsync(n -> {
      scheduler.schedule(r.id());
      return view.snapshot(store.load(r.id()));
    }, control);
  }

  private CompletableFuture<ObjectNode> cancel(ClientConnection conn, TransferRequests.Cancel req) {
    TransferRow r = requireTransfer(conn, req.id());
    if (TransferRow.COMPLETED.equals(r.state())) {
      throw new TetherException(ErrorCode.INVALID_STATE, "transfer " + r.id() + " has already completed");
    }
    return cancelTransfer(r.id(), ErrorCode.CANCELLED, "the transfer was cancelled", req.produceResumeData());
  }

  /** The user force-quit the app: its transfers are cancelled. On the control executor. */
  void forceQuit(String appId) {
    List<Long> ids = store.unfinishedOfApp(appId);
    log.info("force quit of {}: cancelling {} transfer(s)", appId, ids.size());
    for (long id : ids) {
      cancelTransfer(id, ErrorCode.USER_FORCE_QUIT_APPLICATION, "the user force-quit the app", false);
    }
  }

  /** Completes the transfer with an error, stops its attempt, then removes or keeps (as resume data) its part file. */
  private CompletableFuture<ObjectNode> cancelTransfer(long id, ErrorCode code, String message, boolean produceResumeData) {
    return store.write(c -> events.completeTx(c, id, code, message, 0, -1)).thenComposeAsync(done -> {
      scheduler.forget(id);
      return runner.stop(id).thenApplyAsync(v -> {
        TransferRow r = store.load(id);
        if (r.uploadResource() != null) {
          runner.cancelUploadResource(r); // tell a resumable-upload server it can drop what it kept
        }
        ObjectNode o = Json.object();
        o.set("transfer", view.snapshot(r));
        String data = null;
        if (r.tempFile() != null) {
          data = keepOrRemovePart(r, produceResumeData);
        }
        if (data != null) {
          o.put("resumeData", data);
        } else {
          o.putNull("resumeData");
        }
        if (done) {
          events.afterEvents(new SessionKey(r.appId(), r.session()), "transfer completed");
        }
        return o;
      }, control);
    }, control);
  }

  /** Keeps a cancelled download's part file as resume data when asked and it can be resumed (returns it), else removes it. */
  private String keepOrRemovePart(TransferRow r, boolean produceResumeData) {
    Path part = dir.resolve(r.tempFile());
    try {
      if (produceResumeData && Files.exists(part) && Files.size(part) > 0 && r.acceptRanges()
          && (HttpResponses.strong(r.etag()) || r.lastModified() != null)) {
        Path kept = dir.resolve("resume-" + UUID.randomUUID() + ".part");
        Files.move(part, kept, StandardCopyOption.ATOMIC_MOVE);
        return new ResumeData(r.url(), r.etag(), r.lastModified(), Files.size(kept), r.totalBytes(), kept).encode();
      }
      Files.deleteIfExists(part);
    } catch (IOException e) {
      log.warn("transfer {}: cannot keep or remove its partial file: {}", r.id(), e.toString());
    }
    return null;
  }

  private record Acked(String file, Long reschedule) {}

  /**
   * {@code transfer.ack}: the app's delegate has returned from the event {@code seq} (with its {@code answer} to a
   * challenge), or from each of the events {@code seqs} (the client acknowledges a burst in one request).
   */
  private CompletableFuture<ObjectNode> ack(ClientConnection conn, TransferRequests.Ack req) {
    SessionKey key = new SessionKey(conn.appId(), req.session());
    return store.write(c -> {
      List<Acked> done = new ArrayList<>();
      for (long seq : req.seqs()) {
        Acked a = ackOne(c, key, seq, req.answer());
        if (a != null) {
          done.add(a);
        }
      }
      if (!done.isEmpty()) {
        events.checkFinishedTx(c, key);
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
          scheduler.schedule(a.reschedule());
        }
      }
      pump.schedulePump(key);
      return Json.object();
    }, control);
  }

  /** Removes one acknowledged event; null when it was acknowledged before (a redelivery). */
  private Acked ackOne(Connection c, SessionKey key, long seq, TransferRequests.Answer answer) throws SQLException {
    TransferStore.AckedEvent e = store.deleteEventTx(c, key, seq);
    if (e == null) {
      return null;
    }
    Long reschedule = null;
    if ("challenge".equals(e.type())) {
      reschedule = answerChallenge(c, e.transferId(), answer, Json.parseObject(e.challenge())) ? e.transferId() : null;
    }
    return new Acked(e.moved() ? null : e.file(), reschedule);
  }

  /** Applies the app's answer to a challenge; true when the transfer should run again. */
  private boolean answerChallenge(Connection c, long id, TransferRequests.Answer answer, ObjectNode event) throws SQLException {
    TransferRow r = store.loadTx(c, id);
    if (r == null || !TransferRow.RUNNING.equals(r.state()) || !TransferRow.CHALLENGE.equals(r.phase())) {
      return false;
    }
    String disposition = answer == null ? "performDefault" : answer.disposition();
    int status = event.path("challenge").path("status").asInt(401);
    switch (disposition) {
      case "useCredential" -> {
        store.useCredentialTx(c, id, answer.user() + ":" + answer.password());
        return true;
      }
      case "cancel" -> {
        events.completeTx(c, id, ErrorCode.CANCELLED, "the app cancelled the authentication challenge", status, -1);
        return false;
      }
      default -> {
        events.completeTx(c, id, ErrorCode.HTTP_ERROR, "the server requires authentication (" + status
            + ") and the app gave no credential", status, -1);
        return false;
      }
    }
  }

  private CompletableFuture<ObjectNode> conditions(ClientConnection conn, TransferRequests.Conditions req) {
    String power = req.power();
    String network = req.network();
    if ((power != null || network != null) && !CLI_APP_ID.equals(conn.appId())) {
      throw new TetherException(ErrorCode.PERMISSION_DENIED, "only the tether CLI may override device conditions");
    }
    if (power != null && !List.of("external", "battery", "auto").contains(power)) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "power is external, battery or auto, not " + power);
    }
    if (network != null && !List.of("unmetered", "metered", Conditions.NONE, "auto").contains(network)) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "network is unmetered, metered, none or auto, not " + network);
    }
    return store.saveConditions(power, network).thenApplyAsync(v -> {
      conditions.overrides(power != null ? power : conditions.powerOverride(), network != null ? network : conditions.networkOverride());
      this.network.networkCheck(conditions.online(true));
      scheduler.recheckConditions();
      ObjectNode o = Json.object();
      o.put("power", conditions.power());
      o.put("network", conditions.network());
      o.put("powerSetting", conditions.powerOverride());
      o.put("networkSetting", conditions.networkOverride());
      o.put("discretionaryMayRun", conditions.goodForDiscretionary());
      o.put("waitingForConditions", scheduler.waitingForConditions());
      o.put("waitingForNetwork", this.network.waiting());
      return o;
    }, control);
  }
}
