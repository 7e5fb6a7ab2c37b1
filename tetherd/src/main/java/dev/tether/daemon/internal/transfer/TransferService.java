package dev.tether.daemon.internal.transfer;

import dev.tether.daemon.internal.DaemonContext;
import dev.tether.daemon.internal.DaemonService;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.ConnectionListener;
import dev.tether.daemon.internal.store.Migration;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.TetherPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.function.LongConsumer;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the daemon's starting thread ({@link #start}, {@link #close}) and only wires the parts of background URL
 * sessions: sessions by identifier per app, download and upload transfers that outlive the app and the daemon, and
 * the per-session event queue (stored, delivered in order, acknowledged after the delegate returned).
 *
 * <p>Threads: the transfer control executor ({@code tether-transfer-ctl}, serial) owns scheduling ({@link Scheduler},
 * {@link NetworkWatch}, {@link Housekeeping}) and the continuations of requests ({@link TransferHandlers},
 * {@link TransferCreator}); one worker per running attempt ({@link AttemptRunner}); the finisher thread
 * ({@link DownloadFinisher}); the events thread ({@link EventPump}). All SQL is in {@link TransferStore}. Every state
 * change of a transfer and the events it causes commit in one transaction (an outbox, {@link SessionEvents}).
 */
public final class TransferService implements DaemonService {
  /**
   * Test-kit injection ({@code DaemonOptions.extra}): a {@code java.util.function.LongConsumer} told each finished
   * download's id after its file is in place and before its completion is recorded (it may block, to hold a transfer
   * in that instant).
   */
  public static final String BEFORE_RECORDING_FINISHED = "transfer.beforeRecordingFinished";
  private static final Logger log = LoggerFactory.getLogger(TransferService.class);

  private final Conditions conditions = new Conditions(Path.of("/sys/class/power_supply"), Path.of("/proc/net"),
      Path.of("/sys/class/net"));
  private ExecutorService control;
  private CloseableHttpClient http;
  private EventPump pump;
  private Scheduler scheduler;
  private NetworkWatch network;
  private AttemptRunner runner;
  private DownloadFinisher finisher;
  private Housekeeping housekeeping;

  @Override
  public List<Migration> migrations() {
    return TransferSchema.migrations();
  }

  @Override
  public void start(DaemonContext context) throws Exception {
    TransferStore store = new TransferStore(context.store());
    TetherClock clock = context.clock();
    Path dir = TetherPaths.dataDir(context.home()).resolve("transfers");
    LongConsumer hook = context.options().extra(BEFORE_RECORDING_FINISHED, LongConsumer.class);
    Files.createDirectories(dir);
    control = Threads.serial("tether-transfer-ctl");
    http = TransferHttpClient.create();
    Sessions sessions = new Sessions(store);
    pump = new EventPump(store);
    TransferView view = new TransferView(clock);
    SessionEvents events = new SessionEvents(store, clock, sessions, pump, view, context::backgroundWork);
    scheduler = new Scheduler(clock, store, sessions, conditions, control);
    network = new NetworkWatch(clock, store, conditions, scheduler);
    runner = new AttemptRunner(store, clock, dir, http, sessions, conditions, scheduler, network, events, pump, view);
    finisher = new DownloadFinisher(store, clock, dir, scheduler, events, view, runner, hook != null ? hook : id -> { });
    scheduler.wire(network, runner);
    network.wire(runner);
    runner.wire(finisher);
    view.wire(runner, scheduler, network);
    housekeeping = new Housekeeping(store, clock, dir, scheduler);
    TransferHandlers handlers = new TransferHandlers(store, clock, dir, sessions, scheduler, network, runner, events, pump,
        view, conditions, new TransferCreator(store, clock, dir, sessions, scheduler, view, control), control,
        context::backgroundWork);

    Map<String, String> overrides = store.conditions();
    conditions.overrides(overrides.getOrDefault("power", Conditions.AUTO), overrides.getOrDefault("network", Conditions.AUTO));
    handlers.register(context.ipc());
    context.ipc().addListener(new ConnectionListener() {
      @Override
      public void closed(ClientConnection connection) {
        pump.closed(connection);
      }
    });
    try {
      context.backgroundWork().onForceQuit(app -> scheduler.execute(() -> handlers.forceQuit(app)));
    } catch (IllegalStateException e) {
      log.info("no task service in this daemon; force-quit will not cancel transfers ({})", e.getMessage());
    }
    housekeeping.removeStaleFiles();
    List<Long> unfinished = store.runningIds();
    log.info("transfers: resuming {} unfinished transfer(s)", unfinished.size());
    control.submit(() -> unfinished.forEach(scheduler::schedule)).get(); // scheduled by their owner, before start returns
    for (SessionKey k : store.sessionsWithEvents()) {
      events.maybeWake(k, "undelivered transfer events");
    }
    housekeeping.start();
  }

  @Override
  public void close() {
    if (housekeeping != null) {
      housekeeping.close();
    }
    if (network != null) {
      network.close();
    }
    if (scheduler != null) {
      scheduler.close();
    }
    if (finisher != null) {
      finisher.close();
    }
    if (pump != null) {
      pump.close();
    }
    if (control != null) {
      control.shutdown();
    }
    if (runner != null) {
      runner.close(); // stops every attempt, then waits for the workers
    }
    if (http != null) {
      try {
        http.close();
      } catch (IOException e) {
        log.debug("closing the HTTP client: {}", e.toString());
      }
    }
  }
}
