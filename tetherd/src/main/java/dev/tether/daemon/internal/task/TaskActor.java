package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.ipc.RequestParser;
import dev.tether.daemon.internal.ipc.TypedHandler;
import dev.tether.protocol.wire.Operation;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs work on the task thread ({@code tether-tasks}), which owns apps, pending tasks and wakes; other threads hand
 * it work with {@link #submit}, and IPC requests reach it through {@link #register}. Every step counts as activity
 * until it ran, so that {@code task.settle} waits for it.
 */
final class TaskActor {
  private static final Logger log = LoggerFactory.getLogger(TaskActor.class);

  private final ExecutorService executor = Threads.serial("tether-tasks");
  private final Activity activity;
  private volatile boolean closed;

  TaskActor(Activity activity) {
    this.activity = activity;
  }

  boolean closed() {
    return closed;
  }

  /**
   * The task thread as an executor for continuations ({@code thenApplyAsync(f, actor.executor())}), such as those of
   * store writes, which must not run on the store's writer; unlike {@link #submit} it does not count as activity (the
   * work it continues already does).
   */
  Executor executor() {
    return executor;
  }

  /** Queues {@code work} on the task thread (dropped once the service closed); a failure is logged. */
  void submit(Runnable work) {
    if (closed) {
      return;
    }
    activity.begin();
    try {
      executor.execute(() -> {
        try {
          work.run();
        } catch (Throwable t) {
          log.error("task service step failed", t);
        } finally {
          activity.end();
        }
      });
    } catch (RejectedExecutionException e) {
      activity.end();
    }
  }

  /**
   * Serves {@code op}: the body is parsed on the connection's reader thread (bad input is answered from there), then
   * {@code handler} runs on the task thread and the answer is its future's result.
   */
  <R> void register(IpcServer ipc, Operation op, RequestParser<R> parser, TypedHandler<R> handler) {
    ipc.register(op, parser, (c, request) -> {
      CompletableFuture<ObjectNode> result = new CompletableFuture<>();
      submit(() -> {
        try {
          handler.handle(c, request).whenComplete((v, e) -> {
            if (e != null) {
              result.completeExceptionally(e);
            } else {
              result.complete(v);
            }
          });
        } catch (Throwable t) {
          result.completeExceptionally(t);
        }
      });
      return result;
    });
  }

  /** Stops taking work, runs {@code last} on the task thread (waiting up to 10 s for it), then ends the thread. */
  void close(Runnable last) {
    closed = true;
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    try {
      executor.execute(() -> {
        last.run();
        stopped.complete(null);
      });
      stopped.get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("task service did not stop cleanly: {}", e.toString());
    }
    executor.shutdown();
  }
}
