package dev.tether.daemon.internal;

import dev.tether.daemon.internal.store.Migration;
import java.util.List;

/**
 * One capability of the daemon (transfers, background tasks, connectivity). Each owns its tables (its migrations),
 * registers its request handlers in {@link #start}, and reaches other capabilities only through
 * the narrow interfaces the context hands out ({@link DaemonContext#backgroundWork()}).
 */
public interface DaemonService extends AutoCloseable {
  /** This capability's schema, in order; ids prefixed with the capability's name. */
  List<Migration> migrations();

  /** Registers handlers and resumes durable work left from a previous run. */
  void start(DaemonContext context) throws Exception;

  /**
   * Called once every service started and the socket accepts connections: work that makes processes connect (such
   * as launching apps) may begin.
   */
  default void started() {}

  @Override
  default void close() {}
}
