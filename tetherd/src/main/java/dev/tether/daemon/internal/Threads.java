package dev.tether.daemon.internal;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one factory of tetherd's threads: every thread is a named daemon thread ({@code tether-<name>}) whose uncaught
 * failure is logged. Stateless; any thread may call it. Serial owners use {@link #serial}; nothing blocking runs on
 * the common pool.
 */
public final class Threads {
  private static final Logger log = LoggerFactory.getLogger(Threads.class);

  private Threads() {}

  /** A factory of daemon threads all called {@code name} (a thread's name says its job, not its number). */
  public static ThreadFactory named(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      t.setUncaughtExceptionHandler((th, e) -> log.error("uncaught failure on {}", th.getName(), e));
      return t;
    };
  }

  /** A factory of daemon threads called {@code name-1}, {@code name-2}, ... */
  public static ThreadFactory numbered(String name) {
    AtomicInteger n = new AtomicInteger();
    ThreadFactory f = named(name);
    return r -> {
      Thread t = f.newThread(r);
      t.setName(name + "-" + n.incrementAndGet());
      return t;
    };
  }

  /** Starts a daemon thread called {@code name} running {@code work}. */
  public static Thread start(String name, Runnable work) {
    Thread t = named(name).newThread(work);
    t.start();
    return t;
  }

  /** The serial executor that owns a piece of state: one thread, tasks in submission order. */
  public static ExecutorService serial(String name) {
    return Executors.newSingleThreadExecutor(named(name));
  }

  /** One thread running timed tasks. */
  public static ScheduledExecutorService timer(String name) {
    return Executors.newSingleThreadScheduledExecutor(named(name));
  }

  /** A pool of at most {@code threads} threads. */
  public static ExecutorService pool(String name, int threads) {
    return Executors.newFixedThreadPool(threads, named(name));
  }

  /**
   * Runs {@code work} on {@code owner} (the serial executor that owns the state it touches) and completes the future
   * there with its result or its failure.
   */
  public static <T> java.util.concurrent.CompletableFuture<T> on(java.util.concurrent.Executor owner,
      java.util.concurrent.Callable<T> work) {
    java.util.concurrent.CompletableFuture<T> f = new java.util.concurrent.CompletableFuture<>();
    owner.execute(() -> {
      try {
        f.complete(work.call());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    return f;
  }

  /** A pool that grows with the work (one thread per blocking job, such as a running transfer). */
  public static ExecutorService elastic(String name) {
    return Executors.newCachedThreadPool(named(name));
  }
}
