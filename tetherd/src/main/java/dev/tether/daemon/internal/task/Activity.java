package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Any thread (thread-safe): counts what the task service has in flight (steps queued on {@code tether-tasks}, store
 * writes not yet committed, wakes in a transitional phase) and answers {@code task.settle} once nothing is. Any
 * thread calls {@link #begin} and {@link #end}; the waiters are completed on whichever thread ends the last piece of
 * work.
 */
final class Activity {
  private final AtomicInteger busy = new AtomicInteger();
  private final List<CompletableFuture<ObjectNode>> idleWaiters = new ArrayList<>();

  /** One more piece of work in flight. */
  void begin() {
    busy.incrementAndGet();
  }

  /** One piece of work is over; when it was the last, every waiter is told the service is idle. */
  void end() {
    if (busy.decrementAndGet() == 0) {
      List<CompletableFuture<ObjectNode>> ready;
      synchronized (idleWaiters) {
        if (busy.get() != 0) {
          return;
        }
        ready = List.copyOf(idleWaiters);
        idleWaiters.clear();
      }
      for (CompletableFuture<ObjectNode> f : ready) {
        f.complete(Json.object().put("idle", true));
      }
    }
  }

  /** Completes once the service has nothing in flight: no step queued, no write uncommitted, no wake in transition. */
  CompletableFuture<ObjectNode> settled() {
    CompletableFuture<ObjectNode> f = new CompletableFuture<>();
    synchronized (idleWaiters) {
      if (busy.get() == 0) {
        f.complete(Json.object().put("idle", true));
      } else {
        idleWaiters.add(f);
      }
    }
    return f;
  }
}
