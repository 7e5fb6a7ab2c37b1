package dev.tether.daemon.internal.time;

import dev.tether.daemon.internal.Threads;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Wall-clock time with one timer thread; sleeps until the next timer rather than polling. */
public final class SystemClock implements TetherClock, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SystemClock.class);
  private final ScheduledThreadPoolExecutor timers;

  public SystemClock() {
    timers = new ScheduledThreadPoolExecutor(1, Threads.named("tether-timer"));
    timers.setRemoveOnCancelPolicy(true);
  }

  @Override
  public Instant now() {
    return Instant.now();
  }

  @Override
  public Timer schedule(Instant at, Runnable action) {
    long delayMicros = Math.max(0, Duration.between(Instant.now(), at).toNanos() / 1000);
    ScheduledFuture<?> f = timers.schedule(() -> {
      try {
        action.run();
      } catch (Throwable t) {
        log.error("timer action failed", t);
      }
    }, delayMicros, TimeUnit.MICROSECONDS);
    return () -> f.cancel(false);
  }

  @Override
  public void close() {
    timers.shutdownNow();
  }
}
