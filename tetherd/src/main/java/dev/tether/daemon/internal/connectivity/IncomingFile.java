package dev.tether.daemon.internal.connectivity;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The receiving end of one file transfer attempt: the partial file {@code ID.part} on disk, resumed from the bytes it
 * already holds. Chunks are checked (in order, within the offered size) on the link's thread, then written and hashed
 * on two lanes of their own, so that decrypting, writing and SHA-256 overlap; every {@link #FORCE_EVERY} bytes a third
 * lane flushes what was written (fdatasync), so the final fsync before the acknowledgement is short. A file of at least
 * {@link #DIRECT_MIN} bytes is written with direct I/O where the file system allows it ({@link DirectAppender}),
 * which spares the kernel's copy into the page cache and its write-back.
 */
final class IncomingFile {
  static final long FORCE_EVERY = 32L * 1024 * 1024;
  /** Files from this size on are written with direct I/O (smaller ones cost little through the page cache). */
  static final long DIRECT_MIN = 8L * 1024 * 1024;
  private static final int POOL_CHUNKS = 8;
  private static final int LANE_DEPTH = 6;

  private final String id;
  private final long size;
  private final FileChannel channel;
  private final DirectAppender appender;
  private final MessageDigest digest;
  private final ChunkPool pool;
  private final SerialLane writer;
  private final SerialLane hasher;
  private final SerialLane flusher;
  private final AtomicBoolean flushing = new AtomicBoolean();
  private final AtomicLong stored = new AtomicLong();
  private long accepted;
  private long sinceFlush;

  private IncomingFile(String id, long size, FileChannel channel, DirectAppender appender, MessageDigest digest, long have,
      int chunkSize) {
    this.id = id;
    this.size = size;
    this.channel = channel;
    this.appender = appender;
    this.digest = digest;
    this.accepted = have;
    this.stored.set(have);
    String tag = id.length() > 8 ? id.substring(0, 8) : id;
    this.pool = new ChunkPool(POOL_CHUNKS, chunkSize);
    this.writer = new SerialLane("tether-cx-file-write-" + tag, LANE_DEPTH);
    this.hasher = new SerialLane("tether-cx-file-hash-" + tag, LANE_DEPTH);
    this.flusher = new SerialLane("tether-cx-file-flush-" + tag, 1);
  }

  /**
   * Opens (or creates) {@code part} for file {@code id} of {@code size} bytes. The bytes it already holds (at most
   * {@code size}) are kept and hashed again, so the transfer resumes after them (with direct I/O, after the last whole
   * block of them).
   */
  static IncomingFile open(String id, Path part, long size, int chunkSize) throws IOException {
    return open(id, part, size, chunkSize, size >= DIRECT_MIN);
  }

  /** {@link #open(String, Path, long, int)}, with direct I/O tried or not as {@code direct} says. */
  static IncomingFile open(String id, Path part, long size, int chunkSize, boolean direct) throws IOException {
    FileChannel ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
    DirectAppender appender = null;
    try {
      ch.force(true);
      long have = Math.min(ch.size(), size);
      if (direct) {
        long aligned = have - have % DirectAppender.ALIGN;
        appender = DirectAppender.open(part, ch, aligned, chunkSize);
        if (appender != null) {
          have = aligned;
        }
      }
      MessageDigest digest = Disk.sha256();
      if (have > 0) {
        ByteBuffer buf = ByteBuffer.allocate(chunkSize);
        for (long pos = 0; pos < have; ) {
          buf.clear().limit((int) Math.min(chunkSize, have - pos));
          int n = ch.read(buf, pos);
          if (n <= 0) {
            break;
          }
          digest.update(buf.array(), 0, n);
          pos += n;
        }
      }
      if (ch.size() > have) {
        ch.truncate(have);
      }
      return new IncomingFile(id, size, ch, appender, digest, have, chunkSize);
    } catch (IOException | RuntimeException e) {
      if (appender != null) {
        appender.close();
      }
      ch.close();
      throw e;
    }
  }

  String id() {
    return id;
  }

  long size() {
    return size;
  }

  /** Bytes accepted so far: the offset the next chunk must start at. */
  long accepted() {
    return accepted;
  }

  /** Bytes written to the partial file so far (behind {@link #accepted()} while chunks wait on the writer). */
  long stored() {
    return stored.get();
  }

  /** A buffer for an incoming chunk of {@code length} bytes (a pooled one when it fits). */
  byte[] buffer(int length) throws InterruptedException {
    return length <= pool.chunkSize() ? pool.take().data : new byte[length];
  }

  /** The writer's failure (a full disk, say), or null. */
  Exception writeFailure() {
    return writer.failure();
  }

  /**
   * Accepts the chunk at {@code offset} with {@code length} bytes of {@code data} (a buffer from {@link #buffer} or
   * not). A chunk out of order or beyond the offered size is a corrupt frame: nothing is written.
   */
  void accept(long offset, byte[] data, int length) throws InterruptedException {
    ChunkPool.Chunk pooled = pool.of(data);
    ChunkPool.Chunk c = pooled != null ? pooled : ChunkPool.Chunk.unpooled(data, length);
    if (offset != accepted || length < 0 || length > data.length || offset + length > size) {
      c.hold(1).release();
      throw new TetherException(ErrorCode.CORRUPT_FRAME, String.format(
          "file %s: a chunk of %d bytes at offset %d, but the next chunk starts at %d and the file has %d bytes;"
              + " closing the link (the transfer resumes from the stored bytes)", id, length, offset, accepted, size));
    }
    c.length = length;
    accepted += length;
    c.hold(2);
    hasher.submit(() -> {
      digest.update(c.data, 0, c.length);
      c.release();
    }, c::release);
    writer.submit(() -> {
      try {
        if (appender != null) {
          appender.append(c.data, 0, c.length);
          stored.set(appender.written());
        } else {
          ByteBuffer b = ByteBuffer.wrap(c.data, 0, c.length);
          long at = offset;
          while (b.hasRemaining()) {
            at += channel.write(b, at);
          }
          stored.set(at);
        }
      } finally {
        c.release();
      }
      flushNow(c.length);
    }, c::release);
  }

  /** Starts a background flush of what is written when enough piled up since the last one (writer lane only). */
  private void flushNow(int justWritten) throws InterruptedException {
    sinceFlush += justWritten;
    if (sinceFlush >= FORCE_EVERY && flushing.compareAndSet(false, true)) {
      sinceFlush = 0;
      flusher.submit(() -> {
        try {
          channel.force(false);
        } finally {
          flushing.set(false);
        }
      }, () -> flushing.set(false));
    }
  }

  /**
   * Waits for every accepted chunk to be written and hashed, makes the file durable, closes it and returns the
   * SHA-256 (hex) of all of it. Throws the writer's failure, if any.
   */
  String finish() throws Exception {
    try {
      hasher.drain();
      writer.drain();
      if (appender != null) {
        appender.flushTail();
        stored.set(appender.written());
      }
      flusher.drain();
      channel.force(true);
      return HexFormat.of().formatHex(digest.digest());
    } finally {
      abandon();
    }
  }

  /** Lets the chunks already accepted reach the disk (so a later attempt resumes after them) and closes the file. */
  void abandon() {
    try {
      writer.drain();
      if (appender != null) {
        appender.flushTail();
        stored.set(appender.written());
      }
    } catch (Exception e) {
      // the next attempt resumes from what did reach the disk
    }
    if (appender != null) {
      appender.close();
    }
    hasher.close();
    writer.close();
    flusher.close();
    try {
      channel.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }
}
