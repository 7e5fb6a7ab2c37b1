package dev.tether.daemon.internal.connectivity;

import dev.tether.daemon.internal.store.Store;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Gathers many small writes into one store operation. Items accumulate while the store's writer is busy; the
 * operation takes everything gathered at the moment the writer runs it (not when it was queued), so under load one
 * transaction and one fsync carry hundreds of rows, and items are written in the order they were added.
 */
final class GroupWriter<T, R> {
  /** Writes a batch and returns one result per item, in order. */
  interface BatchWork<T, R> {
    List<R> run(Connection c, List<T> items) throws SQLException;
  }

  private record Item<T, R>(T value, CompletableFuture<R> result) {}

  private final Store store;
  private final BatchWork<T, R> work;
  private final List<Item<T, R>> gathered = new ArrayList<>();
  private boolean scheduled;

  GroupWriter(Store store, BatchWork<T, R> work) {
    this.store = store;
    this.work = work;
  }

  CompletableFuture<R> add(T value) {
    CompletableFuture<R> f = new CompletableFuture<>();
    boolean schedule;
    synchronized (this) {
      gathered.add(new Item<>(value, f));
      schedule = !scheduled;
      scheduled = true;
    }
    if (schedule) {
      schedule();
    }
    return f;
  }

  private void schedule() {
    List<List<Item<T, R>>> taken = new ArrayList<>(1);
    store.write(c -> {
      List<Item<T, R>> batch;
      synchronized (this) {
        batch = new ArrayList<>(gathered);
        gathered.clear();
        scheduled = false;
      }
      taken.add(batch);
      List<T> values = new ArrayList<>(batch.size());
      for (Item<T, R> i : batch) {
        values.add(i.value());
      }
      return work.run(c, values);
    }).whenComplete((results, failure) -> {
      List<Item<T, R>> batch = taken.isEmpty() ? List.of() : taken.get(0);
      for (int i = 0; i < batch.size(); i++) {
        if (failure != null) {
          batch.get(i).result().completeExceptionally(failure);
        } else {
          batch.get(i).result().complete(results.get(i));
        }
      }
      if (taken.isEmpty() && failure != null) {
        // the store refused the operation before running it (closed): fail whatever waits
        List<Item<T, R>> rest;
        synchronized (this) {
          rest = new ArrayList<>(gathered);
          gathered.clear();
          scheduled = false;
        }
        rest.forEach(i -> i.result().completeExceptionally(failure));
      }
    });
  }
}
