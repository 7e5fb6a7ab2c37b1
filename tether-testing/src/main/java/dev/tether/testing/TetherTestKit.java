package dev.tether.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.AppRefreshTask;
import dev.tether.BackgroundTask;
import dev.tether.ConnectivityTask;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.UrlSessionTask;
import dev.tether.daemon.Tetherd;
import dev.tether.daemon.internal.DaemonOptions;
import dev.tether.daemon.internal.task.launch.AppLauncher;
import dev.tether.daemon.internal.task.launch.LaunchRequest;
import dev.tether.daemon.internal.task.launch.LaunchedApp;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.Errors;
import dev.tether.internal.TetherAccess;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.TransferOp;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A private tetherd for an app's own JUnit tests, in the spirit of WorkManager's {@code TestDriver}: it runs inside
 * the test JVM in a temporary home, on a {@link VirtualClock}, and launches the test's apps in-process whenever it
 * would launch a real one, so a test can trigger any task kind, move time, force budgets and expire a wake.
 *
 * <pre>{@code
 * try (TetherTestKit kit = TetherTestKit.start()) {
 *   TestApp app = kit.app("com.example.weather").onTask(AppRefreshTask.class, task -> refresh());
 *   app.scheduleBackgroundRefresh(kit.clock().now(), Map.of());
 *   kit.clock().advance(Duration.ofMinutes(1));
 *   assertThat(kit.timeline("com.example.weather").wakes()).hasSize(1);
 * }
 * }</pre>
 *
 * <p>Two kits can be paired ({@link #pair}) as a primary and a companion over real loopback TLS; counterpart apps
 * then talk through that link, which the test can cut ({@link #dropLink()}) and restore ({@link #restoreLink()}).
 * {@link #conditions} forces the power and network discretionary transfers wait for.
 *
 * <pre>{@code
 * try (TetherTestKit phone = TetherTestKit.start(); TetherTestKit watch = TetherTestKit.start()) {
 *   TetherTestKit.pair(phone, watch);
 *   watch.app("com.example.weather").onTask(ConnectivityTask.class, task -> {
 *     ConnectivitySession cx = watch.app("com.example.weather").tether().connectivity(recordingDelegate);
 *     return cx.activate().thenCompose(state -> cx.drained());
 *   });
 *   try (Tether app = phone.connect("com.example.weather")) {
 *     ConnectivitySession cx = app.connectivity(new ConnectivityDelegate() {});
 *     cx.activate().join();
 *     phone.dropLink();
 *     cx.transferUserInfo(Map.of("temp", "21"));   // queued: the link is down
 *     phone.restoreLink();                         // the watch app is launched with a ConnectivityTask and gets it
 *   }
 * }
 * }</pre>
 *
 * <p>Every operation returns once the daemon and the apps have finished what it caused (handlers whose futures
 * complete later, and connectivity delegates, which run on each session's own thread, excepted). Real transfers and
 * connectivity still use real sockets; time-based behaviour follows the virtual clock, except the links between
 * paired kits (heartbeats, dialing), which run on real time.
 */
public final class TetherTestKit implements AutoCloseable {
  /** Where a kit's clock starts unless told otherwise. */
  public static final Instant DEFAULT_START = Instant.parse("2030-01-01T08:00:00Z");
  static final String ADMIN_APP_ID = "dev.tether.testkit";
  private static final String CLI_APP_ID = "dev.tether.cli";
  private static final Duration SETTLE_LIMIT = Duration.ofSeconds(20);
  private static final ThreadLocal<Boolean> IN_HANDLER = ThreadLocal.withInitial(() -> false);

  private final Path home;
  private final VirtualClock clock;
  private final Tetherd daemon;
  private final DaemonClient admin;
  private final Map<String, TestApp> apps = new ConcurrentHashMap<>();
  private volatile KitPairing pairing;
  private volatile boolean closed;

  private TetherTestKit(Instant start) throws IOException {
    this.home = Files.createTempDirectory("tether-kit");
    this.clock = new VirtualClock(start);
    this.daemon = Tetherd.start(DaemonOptions.builder(home).clock(new DaemonClock(clock)).extra(AppLauncher.OPTION, new InProcessLauncher()).build());
    ObjectNode hello = Json.object();
    hello.put("kind", "cli");
    this.admin = DaemonClient.connect(home, ADMIN_APP_ID, hello, false);
    // the same on every machine: a test on a laptop running on battery must not see discretionary transfers wait
    forceConditions(PowerSource.EXTERNAL, NetworkType.UNMETERED);
    clock.settleWith(this::settle);
  }

  /** Starts a kit whose clock reads {@link #DEFAULT_START}. */
  public static TetherTestKit start() {
    return start(DEFAULT_START);
  }

  /** Starts a kit whose clock starts at {@code start}. */
  public static TetherTestKit start(Instant start) {
    try {
      return new TetherTestKit(start);
    } catch (IOException e) {
      throw new TetherException(ErrorCode.GENERIC, "the test kit could not create its home: " + e.getMessage(), e);
    } catch (dev.tether.protocol.TetherException e) {
      throw Errors.toPublic(e); // the embedded daemon's failure, as tests catch it
    }
  }

  /** The virtual clock every timer of the kit's daemon runs on. */
  public VirtualClock clock() {
    return clock;
  }

  /** The kit daemon's home folder (a temporary folder removed on {@link #close()}). */
  public Path home() {
    return home;
  }

  /** The test app with this id, registered with the daemon on first use. */
  public TestApp app(String appId) {
    return apps.computeIfAbsent(appId, id -> {
      ObjectNode b = Json.object();
      b.put("app", id);
      b.put("launch", "(test kit in-process app " + id + ")");
      admin.call(dev.tether.protocol.wire.TaskOp.APP_REGISTER, b);
      return new TestApp(this, id);
    });
  }

  /**
   * Connects to the kit's daemon as {@code appId}, like {@link Tether#connect} (in the foreground, not launched
   * in the background). Close it when done. The daemon notices a close asynchronously: a test that relies on the app
   * being gone afterwards waits for that (with Awaitility, for example on {@link TestApp#launches()}).
   */
  public Tether connect(String appId) {
    Tether t = Tether.connect(appId, TetherOptions.defaults().home(home).startDaemon(false));
    // Asked on the new connection itself: answered only after the daemon has taken the connection in.
    TetherAccess.client(t).call(dev.tether.protocol.wire.TaskOp.TASK_SETTLE, Json.object());
    return t;
  }

  /**
   * Fires a task of {@code kind} ({@code AppRefreshTask.class} or {@code ConnectivityTask.class}) for the app now,
   * past its budget and preferred date; the app is launched if it is not running. Returns the task's id.
   */
  public String trigger(String appId, Class<? extends BackgroundTask> kind) {
    String wire;
    if (kind == AppRefreshTask.class) {
      wire = "appRefresh";
    } else if (kind == ConnectivityTask.class) {
      wire = "connectivity";
    } else if (kind == UrlSessionTask.class) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "a URL-session task needs its session: use triggerUrlSession(appId, id)");
    } else {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "unknown task kind " + kind);
    }
    return trigger(appId, wire, null);
  }

  /** Fires a URL-session task for the app's session {@code sessionIdentifier} now, past budget and spacing. */
  public String triggerUrlSession(String appId, String sessionIdentifier) {
    return trigger(appId, "urlSession", sessionIdentifier);
  }

  /**
   * Signals, as the transfer service does when a session's transfers finished, that the app's URL session has
   * events: a URL-session task is queued within the app's budget and spacing (coalesced per session).
   */
  public String urlSessionNeedsApp(String appId, String sessionIdentifier) {
    return trigger(appId, "urlSession", sessionIdentifier, false);
  }

  /** Signals, as the connectivity service does when counterpart data arrived, that the app needs a connectivity task. */
  public String connectivityNeedsApp(String appId) {
    return trigger(appId, "connectivity", null, false);
  }

  /**
   * Tells tetherd, as the transfer service does, that a process of the app opened the session itself: a URL-session
   * task for it that waits is withdrawn.
   */
  public void urlSessionOpened(String appId, String sessionIdentifier) {
    ObjectNode b = Json.object();
    b.put("app", appId);
    b.put("kind", "urlSession");
    b.put("sessionIdentifier", sessionIdentifier);
    admin.call(dev.tether.protocol.wire.TaskOp.TASK_WITHDRAW, b);
    settleUnlessInHandler();
  }

  private String trigger(String appId, String kind, String session) {
    return trigger(appId, kind, session, true);
  }

  private String trigger(String appId, String kind, String session, boolean bypass) {
    ObjectNode b = Json.object();
    b.put("app", appId);
    b.put("kind", kind);
    b.put("bypassBudget", bypass);
    if (session != null) {
      b.put("sessionIdentifier", session);
    }
    String id = admin.call(dev.tether.protocol.wire.TaskOp.TASK_TRIGGER, b).path("id").asText();
    settleUnlessInHandler();
    return id;
  }

  /**
   * Expires the app's running wake now: its tasks' expiration handlers run, then the wake ends as expired (the app
   * is ended and charged) unless the handlers completed every task.
   */
  public void expire(String appId) {
    ObjectNode b = Json.object();
    b.put("app", appId);
    admin.call(dev.tether.protocol.wire.TaskOp.TASK_EXPIRE, b);
    settleUnlessInHandler();
  }

  /** Holds every budgeted wake (reason {@link WaitReason#CONDITIONS}) until released with {@code false}. */
  public void holdWakes(boolean hold) {
    ObjectNode b = Json.object();
    b.put("hold", hold);
    admin.call(dev.tether.protocol.wire.TaskOp.TASK_HOLD, b);
    settleUnlessInHandler();
  }

  /**
   * Pairs two kits' daemons over loopback, the way {@code tether pair listen} and {@code tether pair connect} do:
   * {@code primary} arms a one-time code, {@code companion} proves it knows it over TLS 1.3 and both pin the other's
   * certificate; from then on they keep a mutually authenticated TLS link over real TCP. The companion reaches the
   * primary through a loopback hop the kits own, which {@link #dropLink()} cuts. Returns once the link is up on both
   * sides.
   *
   * <p>Apps with the same id on both kits are then counterparts: what one's {@link dev.tether.ConnectivitySession}
   * sends reaches the other, and a counterpart that is not running is launched (in-process, by its kit) with a
   * {@link ConnectivityTask}. Links run on real time, not on the kits' clocks: {@link VirtualClock#advance} never
   * times a link out.
   *
   * @throws TetherException {@link ErrorCode#INVALID_PARAMETER} when both are the same kit, {@link ErrorCode#INVALID_STATE}
   *     when either is paired already
   */
  public static void pair(TetherTestKit primary, TetherTestKit companion) {
    if (primary == companion) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "a kit cannot pair with itself; start a second kit as the companion");
    }
    synchronized (TetherTestKit.class) {
      if (primary.pairing != null || companion.pairing != null) {
        throw new TetherException(ErrorCode.INVALID_STATE, "the " + (primary.pairing != null ? "primary" : "companion")
            + " kit is paired already; a kit pairs once (start fresh kits for another pairing)");
      }
      KitPairing p = KitPairing.pair(primary, companion);
      primary.pairing = p;
      companion.pairing = p;
    }
  }

  /** Whether this kit is paired ({@link #pair}) and the link to its paired kit is up on both sides. */
  public boolean isLinkUp() {
    KitPairing p = pairing;
    return p != null && !p.isDropped() && p.isUp();
  }

  /**
   * Cuts the link to the paired kit: the TCP connection between the two daemons is closed (both read end of stream at
   * once) and stays down until {@link #restoreLink()}. Returns once both daemons have seen the link go down and told
   * their apps' activated sessions (their delegates' {@code reachabilityChanged} runs on each session's own thread,
   * so a test awaits it). Meanwhile transfers queue on the sending side; messages fail with
   * {@link ErrorCode#NOT_REACHABLE}. Either kit of the pair may drop the link.
   *
   * @throws TetherException {@link ErrorCode#DEVICE_NOT_PAIRED} when this kit is not paired,
   *     {@link ErrorCode#INVALID_STATE} when either kit of the pair is closed
   */
  public void dropLink() {
    paired("drop the link").drop();
  }

  /**
   * Lets the paired daemons link again and returns once the link is up on both sides (within about a second: the
   * companion's dial, held while the link was down, goes through at once). Queued transfers then flow, in order and
   * exactly once, to the counterpart apps; a test awaits their delegates.
   *
   * @throws TetherException {@link ErrorCode#DEVICE_NOT_PAIRED} when this kit is not paired,
   *     {@link ErrorCode#INVALID_STATE} when either kit of the pair is closed
   */
  public void restoreLink() {
    paired("restore the link").restore();
  }

  private KitPairing paired(String what) {
    KitPairing p = pairing;
    if (p == null) {
      throw new TetherException(ErrorCode.DEVICE_NOT_PAIRED, "cannot " + what + ": this kit is not paired; "
          + "pair two kits with TetherTestKit.pair(primary, companion)");
    }
    return p;
  }

  /**
   * Forces the device conditions background transfers wait for, as {@code tether conditions --power --network} does:
   * discretionary ones run only on {@link PowerSource#EXTERNAL} power and an {@link NetworkType#UNMETERED} network, and
   * with {@link NetworkType#NONE} every transfer to a non-loopback host waits for a network (loopback ones still run).
   * A kit starts with external power and an unmetered network, whatever the machine reports. Returns once the
   * transfer service has re-evaluated every transfer that waited (those that may run now have started), with how many
   * still wait for conditions or for a network.
   */
  public int conditions(PowerSource power, NetworkType network) {
    java.util.Objects.requireNonNull(power, "power");
    java.util.Objects.requireNonNull(network, "network");
    ObjectNode r = forceConditions(power, network);
    settleUnlessInHandler();
    return r.path("waitingForConditions").asInt() + r.path("waitingForNetwork").asInt();
  }

  private ObjectNode forceConditions(PowerSource power, NetworkType network) {
    ObjectNode b = Json.object();
    b.put("power", power.wire());
    b.put("network", network.wire());
    ObjectNode hello = Json.object();
    hello.put("kind", "cli");
    // the daemon lets only the tether CLI override conditions, so the kit asks as the CLI does
    try (DaemonClient cli = DaemonClient.connect(home, CLI_APP_ID, hello, false)) {
      return cli.call(TransferOp.CONDITIONS, b);
    }
  }

  /** The app's wakes and waiting tasks. */
  public Timeline timeline(String appId) {
    ObjectNode b = Json.object();
    b.put("app", appId);
    return Timeline.from(admin.call(dev.tether.protocol.wire.TaskOp.TIMELINE, b));
  }

  /** Waits until the daemon and the apps have finished what was started (every kit operation does this itself). */
  public void settle() {
    DaemonClient a = admin;
    if (a == null) {
      return;
    }
    try {
      a.request(dev.tether.protocol.wire.TaskOp.TASK_SETTLE, Json.object()).get(SETTLE_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("the daemon did not become idle within " + SETTLE_LIMIT.toSeconds()
          + " s: a task handler may be blocking its thread, or the test called the clock from inside a handler");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the daemon");
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("waiting for the daemon failed: " + e.getCause(), e.getCause());
    }
  }

  void settleUnlessInHandler() {
    if (!IN_HANDLER.get()) {
      settle();
    }
  }

  DaemonClient admin() {
    return admin;
  }

  boolean isClosed() {
    return closed;
  }

  KitPairing pairing() {
    return pairing;
  }

  void inHandler(Runnable r) {
    inHandlerGet(() -> {
      r.run();
      return null;
    });
  }

  <T> T inHandlerGet(Supplier<T> s) {
    boolean was = IN_HANDLER.get();
    IN_HANDLER.set(true);
    try {
      return s.get();
    } finally {
      IN_HANDLER.set(was);
    }
  }

  /** Stops the kit's daemon and removes its home; a paired kit's link goes with it. Closing again does nothing. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    KitPairing paired = pairing;
    if (paired != null) {
      paired.close();
    }
    try {
      admin.close();
    } finally {
      daemon.close();
      try (Stream<Path> files = Files.walk(home)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException ignored) {
        // a temporary folder; the OS cleans it eventually
      }
    }
  }

  /** Runs launches as in-process connections of the kit's test apps. */
  private final class InProcessLauncher implements AppLauncher {
    @Override
    public LaunchedApp launch(LaunchRequest request) throws IOException {
      TestApp app = apps.get(request.appId());
      if (app == null) {
        throw new IOException("the test kit has no app " + request.appId() + "; create it with kit.app(\"" + request.appId() + "\")");
      }
      InProcessApp launched = new InProcessApp();
      Thread t = new Thread(() -> launched.run(app, request), "tether-kit-launch-" + request.appId());
      t.setDaemon(true);
      t.start();
      return launched;
    }
  }

  /** One in-process launch: a connection that behaves as the launched process. */
  private final class InProcessApp implements LaunchedApp {
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private volatile Tether tether;
    private volatile int status;

    void run(TestApp app, LaunchRequest request) {
      try {
        Tether t = TetherAccess.get().connect(request.appId(), TetherOptions.defaults().home(home).startDaemon(false),
            request.environment());
        tether = t;
        TetherAccess.client(t).onClose(() -> {
          app.ended(t);
          exit.complete(status);
        });
        TetherAccess.get().backgroundTasks(t).onExitRequested(t::close);
        app.launched(t);
        TetherAccess.get().backgroundTasks(t).listen();
      } catch (RuntimeException e) {
        status = 1;
        exit.complete(1);
      }
    }

    @Override
    public long pid() {
      return -1;
    }

    @Override
    public CompletableFuture<Integer> onExit() {
      return exit;
    }

    @Override
    public void terminate() {
      end(143);
    }

    @Override
    public void kill() {
      end(137);
    }

    private void end(int code) {
      status = code;
      Tether t = tether;
      if (t != null) {
        t.close();
      } else {
        exit.complete(code);
      }
    }
  }
}
