package dev.tether.daemon.internal.task;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.time.TetherClock;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Confined to the task thread ({@code tether-tasks}), where the task service hands it requests: the registered apps
 * ({@code task_apps}) with their launch commands, budget settings, force quit and stored foreground flag, written
 * through to the store.
 */
final class AppRegistry {
  private static final Logger log = LoggerFactory.getLogger(AppRegistry.class);

  private final Map<String, AppConfig> apps = new LinkedHashMap<>();
  private final TaskStore db;
  private final AppConnections connections;
  private final TetherClock clock;

  /** What {@link #register} did. */
  record Registered(AppConfig app, boolean newLaunchCommand, CompletableFuture<Void> saved) {}

  AppRegistry(TaskStore db, AppConnections connections, TetherClock clock) {
    this.db = db;
    this.connections = connections;
    this.clock = clock;
  }

  void load() {
    for (AppConfig a : db.loadApps()) {
      apps.put(a.appId, a);
    }
  }

  /** The registered app, or null. */
  AppConfig get(String appId) {
    return apps.get(appId);
  }

  boolean contains(String appId) {
    return apps.containsKey(appId);
  }

  Collection<AppConfig> all() {
    return apps.values();
  }

  int size() {
    return apps.size();
  }

  /** The registered app, or the defaults an unregistered app's wake is run and charged with. */
  AppConfig orDefaults(String appId) {
    AppConfig app = apps.get(appId);
    return app != null ? app : new AppConfig(appId);
  }

  /** The registered app, or {@code UNKNOWN_APP}. */
  AppConfig require(String appId) {
    AppConfig app = apps.get(appId);
    if (app == null) {
      throw unknownApp(appId);
    }
    return app;
  }

  static TetherException unknownApp(String appId) {
    return new TetherException(ErrorCode.UNKNOWN_APP, "no app " + appId + " is registered; see 'tether apps', or register it with"
        + " 'tether app register " + appId + " --launch CMD'");
  }

  /** Registers {@code appId} with {@code launch}, or updates it; settings not given are kept. */
  Registered register(String appId, String launch, TaskRequests.AppSettings settings) {
    AppConfig app = apps.get(appId);
    boolean isNew = app == null;
    boolean newLaunchCommand = isNew || !launch.equals(app.launchCommand);
    if (isNew) {
      app = new AppConfig(appId);
      app.registeredAt = clock.now();
      apps.put(appId, app);
    }
    app.launchCommand = launch;
    settings.applyTo(app);
    log.info("{} app {} with launch command {}", isNew ? "registered" : "updated", appId, launch);
    return new Registered(app, newLaunchCommand, save(app));
  }

  CompletableFuture<Void> changeBudget(AppConfig app, TaskRequests.AppSettings settings) {
    settings.applyTo(app);
    return save(app);
  }

  CompletableFuture<Void> unregister(AppConfig app) {
    apps.remove(app.appId);
    log.info("unregistered app {}", app.appId);
    return db.deleteApp(app.appId);
  }

  /** Marks the app force-quit by the user: no background launches until it runs in the foreground again. */
  CompletableFuture<Void> forceQuit(AppConfig app) {
    app.forceQuit = true;
    return save(app);
  }

  /** The app runs in the foreground again: background launches are allowed again (null: it was not force-quit). */
  CompletableFuture<Void> clearForceQuit(String appId) {
    AppConfig app = apps.get(appId);
    if (app == null || !app.forceQuit) {
      return null;
    }
    app.forceQuit = false;
    return save(app);
  }

  /** Keeps the stored foreground flag (what {@code tether apps} shows after a restart too) in step with connections. */
  void foregroundMayHaveChanged(String appId) {
    AppConfig app = apps.get(appId);
    if (app != null && app.foregroundStored != connections.inForeground(appId)) {
      app.foregroundStored = connections.inForeground(appId);
      save(app);
    }
  }

  /** Why a paired device's data would not launch {@code appId} here, if it would not. */
  Optional<String> launchRefusal(String appId) {
    AppConfig app = apps.get(appId);
    if (app == null) {
      return Optional.of("no app " + appId + " is registered there to launch (tether app register " + appId
          + " --launch CMD)");
    }
    if (app.forceQuit) {
      return Optional.of("its user force-quit " + appId + " there; it is not launched in the background"
          + " until it runs in the foreground again");
    }
    return Optional.empty();
  }

  CompletableFuture<Void> save(AppConfig app) {
    return db.saveApp(app, connections.inForeground(app.appId), clock.now());
  }
}
