package dev.tether.daemon.internal.connectivity;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One stage of a file transfer's pipeline (hashing, or writing to disk) on a thread of its own: steps run one after
 * another in the order they were submitted, at most {@code depth} wait, and a submitter blocks beyond that. After a
 * step fails, later steps are skipped and the failure is reported by {@link #failure()} and {@link #drain()}. The
 * thread goes away when the lane has been idle for a few seconds.
 */
final class SerialLane {
  /** A step of work. */
  interface Step {
    void run() throws Exception;
  }

  private final ThreadPoolExecutor exec;
  private final Semaphore room;
  private volatile Exception failure;

  SerialLane(String name, int depth) {
    this.room = new Semaphore(depth);
    this.exec = new ThreadPoolExecutor(1, 1, 5, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
    exec.allowCoreThreadTimeOut(true);
  }

  /**
   * Queues a step, waiting while {@code depth} steps wait already. {@code skipped} runs instead of the step when an
   * earlier one failed, so that resources the step would have released are released anyway.
   */
  void submit(Step step, Runnable skipped) throws InterruptedException {
    room.acquire();
    exec.execute(() -> {
      try {
        if (failure == null) {
          step.run();
        } else {
          skipped.run();
        }
      } catch (Exception e) {
        if (failure == null) {
          failure = e;
        }
        skipped.run();
      } finally {
        room.release();
      }
    });
  }

  /** The first step's failure, or null. */
  Exception failure() {
    return failure;
  }

  /** Waits until every step submitted so far ran (or was skipped); throws the first failure, if any. */
  void drain() throws Exception {
    CompletableFuture<Void> done = new CompletableFuture<>();
    exec.execute(() -> done.complete(null));
    try {
      done.get();
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Lets queued steps finish and then ends the thread. */
  void close() {
    exec.shutdown();
  }
}
