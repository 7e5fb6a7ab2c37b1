package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.daemon.internal.BackgroundWork;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sessions' event log (the outbox). Its {@code Tx} methods run inside the caller's store write, on the store's
 * writer; {@link #afterEvents} and {@link #maybeWake} run on the thread that saw the commit (the control executor, a
 * worker or the finisher) and hand delivery to the {@link EventPump}. Keeps no state of its own.
 */
final class SessionEvents {
  private static final Logger log = LoggerFactory.getLogger(SessionEvents.class);

  private final TransferStore store;
  private final TetherClock clock;
  private final Sessions sessions;
  private final EventPump pump;
  private final TransferView view;
  private final Supplier<BackgroundWork> backgroundWork;

  SessionEvents(TransferStore store, TetherClock clock, Sessions sessions, EventPump pump, TransferView view,
      Supplier<BackgroundWork> backgroundWork) {
    this.store = store;
    this.clock = clock;
    this.sessions = sessions;
    this.pump = pump;
    this.view = view;
    this.backgroundWork = backgroundWork;
  }

  /** Stores one event of the session. */
  void addTx(Connection c, SessionKey key, String type, Long transferId, ObjectNode body, String file) throws SQLException {
    store.addEventsTx(c, key, clock.now().toEpochMilli(), new TransferStore.NewEvent(type, transferId, body, file));
  }

  /** Stores {@code events} of the session with its next sequence numbers, in order. */
  void addTx(Connection c, SessionKey key, TransferStore.NewEvent... events) throws SQLException {
    store.addEventsTx(c, key, clock.now().toEpochMilli(), events);
  }

  /**
   * Marks the transfer completed (with or without an error) and records its {@code completed} event, once: returns
   * false when it had completed before.
   */
  boolean completeTx(Connection c, long id, ErrorCode code, String message, int status, long bytes) throws SQLException {
    TransferRow r = store.loadTx(c, id);
    if (r == null || TransferRow.COMPLETED.equals(r.state())) {
      return false;
    }
    store.completeTx(c, id, code, message, status, bytes, clock.now().toEpochMilli());
    ObjectNode ev = Json.object();
    ev.set("transfer", view.snapshot(store.loadTx(c, id)));
    if (code != null) {
      ObjectNode e = ev.putObject("error");
      e.put("code", code.name());
      e.put("message", message);
    }
    addTx(c, new SessionKey(r.appId(), r.session()), "completed", id, ev, null);
    return true;
  }

  /** Adds {@code eventsFinished} when the session has no running transfer and every earlier event was acknowledged. */
  void checkFinishedTx(Connection c, SessionKey key) throws SQLException {
    if (store.owesEventsFinishedTx(c, key)) {
      addTx(c, key, "eventsFinished", null, Json.object(), null);
    }
  }

  /** After a commit that added events: deliver them, and wake the app if none of its connections has the session open. */
  void afterEvents(SessionKey key, String reason) {
    pump.schedulePump(key);
    if (!store.anyRunning(key)) {
      maybeWake(key, reason);
    }
  }

  /** Asks the task service to launch the app when no connection of it has the session open (and it wants launches). */
  void maybeWake(SessionKey key, String reason) {
    if (pump.isOpen(key)) {
      return;
    }
    SessionConfig cfg = sessions.config(key);
    if (cfg == null || !cfg.sendsLaunchEvents()) {
      return;
    }
    try {
      backgroundWork.get().urlSessionNeedsApp(key.app(), key.id(), reason);
    } catch (IllegalStateException e) {
      log.debug("session {} of {} needs its app ({}), but no task service runs: {}", key.id(), key.app(), reason, e.getMessage());
    } catch (RuntimeException e) {
      log.warn("asking to wake {} for session {} failed", key.app(), key.id(), e);
    }
  }
}
