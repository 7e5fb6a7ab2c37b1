package dev.tether.daemon.internal;

import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.store.Store;
import dev.tether.daemon.internal.time.TetherClock;
import java.nio.file.Path;

/** What every capability of a running daemon shares. Immutable once started; any thread may read it. */
public final class DaemonContext {
  private final Path home;
  private final Store store;
  private final TetherClock clock;
  private final IpcServer ipc;
  private final DaemonOptions options;
  private volatile BackgroundWork backgroundWork;

  public DaemonContext(Path home, Store store, TetherClock clock, IpcServer ipc, DaemonOptions options) {
    this.home = home;
    this.store = store;
    this.clock = clock;
    this.ipc = ipc;
    this.options = options;
  }

  public Path home() {
    return home;
  }

  public Store store() {
    return store;
  }

  public TetherClock clock() {
    return clock;
  }

  public IpcServer ipc() {
    return ipc;
  }

  public DaemonOptions options() {
    return options;
  }

  /** Called once by the task service when it starts. */
  public void provideBackgroundWork(BackgroundWork work) {
    if (backgroundWork != null) {
      throw new IllegalStateException("background work is already provided");
    }
    backgroundWork = work;
  }

  /** The background-task machinery; present once the task service started (it starts before the producers). */
  public BackgroundWork backgroundWork() {
    BackgroundWork w = backgroundWork;
    if (w == null) {
      throw new IllegalStateException("no task service has started in this daemon");
    }
    return w;
  }
}
