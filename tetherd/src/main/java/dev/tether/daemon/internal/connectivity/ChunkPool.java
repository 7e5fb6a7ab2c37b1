package dev.tether.daemon.internal.connectivity;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed set of file-chunk buffers shared by the stages of one file transfer (read, hash, send or write). Taking a
 * buffer blocks while all are in use, which is the back-pressure between the stages; a buffer returns to the pool when
 * every stage it was handed to released it. Buffers are allocated on first use, so an idle daemon holds none.
 */
final class ChunkPool {
  /** One pooled buffer and how many stages still hold it. */
  static final class Chunk {
    final byte[] data;
    int length;
    private final AtomicInteger holders = new AtomicInteger();
    private final ChunkPool pool;

    private Chunk(ChunkPool pool, byte[] data) {
      this.pool = pool;
      this.data = data;
    }

    /** A chunk over a buffer that belongs to no pool (releasing it does nothing). */
    static Chunk unpooled(byte[] data, int length) {
      Chunk c = new Chunk(null, data);
      c.length = length;
      return c;
    }

    /** Hands the chunk to {@code stages} holders; each calls {@link #release()} once. */
    Chunk hold(int stages) {
      holders.set(stages);
      return this;
    }

    void release() {
      if (holders.decrementAndGet() == 0 && pool != null) {
        pool.free.add(this);
      }
    }
  }

  private final BlockingQueue<Chunk> free;
  private final Map<byte[], Chunk> byArray = new IdentityHashMap<>();
  private final int chunkSize;
  private final int capacity;
  private int allocated;

  ChunkPool(int capacity, int chunkSize) {
    this.capacity = capacity;
    this.chunkSize = chunkSize;
    this.free = new ArrayBlockingQueue<>(capacity);
  }

  int chunkSize() {
    return chunkSize;
  }

  /** A free buffer, waiting while all of them are held by a stage. */
  Chunk take() throws InterruptedException {
    Chunk c = free.poll();
    if (c != null) {
      return c;
    }
    synchronized (byArray) {
      if (allocated < capacity) {
        allocated++;
        c = new Chunk(this, new byte[chunkSize]);
        byArray.put(c.data, c);
        return c;
      }
    }
    return free.take();
  }

  /** The pooled chunk whose buffer is {@code data}, or null when {@code data} did not come from this pool. */
  Chunk of(byte[] data) {
    synchronized (byArray) {
      return byArray.get(data);
    }
  }
}
