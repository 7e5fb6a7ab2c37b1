package dev.tether.daemon.internal;

import java.util.ArrayList;
import java.util.List;

/** The capabilities a daemon runs, in start order (a service may use those before it). */
public final class DaemonServices {
  private DaemonServices() {}

  public static List<DaemonService> create() {
    List<DaemonService> services = new ArrayList<>();
    services.add(new dev.tether.daemon.internal.task.TaskService());
    services.add(new dev.tether.daemon.internal.transfer.TransferService());
    services.add(new dev.tether.daemon.internal.connectivity.ConnectivityService());
    return services;
  }
}
