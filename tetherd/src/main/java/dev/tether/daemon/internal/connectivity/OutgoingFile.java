package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityFrame;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;

/**
 * The sending end of one file transfer attempt: reads the snapshot in chunks and writes them to the link on the
 * calling thread (which encrypts them), while a lane of its own computes the SHA-256 of the whole file, so hashing and
 * encryption overlap. A few pooled buffers bound the memory and keep the hashing at most a few chunks behind.
 */
final class OutgoingFile {
  private static final int POOL_CHUNKS = 4;
  private static final long PROGRESS_EVERY_NANOS = 100_000_000L;

  private OutgoingFile() {}

  /**
   * Sends {@code file} (of {@code size} bytes) from {@code offset} on, the bytes before it only hashed. Returns the
   * SHA-256 (hex) of the whole file, or null when {@code stop} said to stop before the end. While the file is still
   * being captured ({@code capture} not null), reads wait for the bytes to be copied.
   */
  static String send(PeerLink link, Path file, Snapshot capture, String id, long offset, long size, int chunkSize,
      BooleanSupplier stop, LongConsumer progress) throws Exception {
    MessageDigest digest = Disk.sha256();
    ChunkPool pool = new ChunkPool(POOL_CHUNKS, chunkSize);
    SerialLane hasher = new SerialLane("tether-cx-file-hash-" + (id.length() > 8 ? id.substring(0, 8) : id), POOL_CHUNKS - 1);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      for (long pos = 0; pos < offset; ) {
        ChunkPool.Chunk c = read(ch, pool, capture, pos, Math.min(chunkSize, offset - pos), offset, file);
        pos += c.length;
        hash(hasher, digest, c.hold(1));
      }
      long lastProgress = 0;
      while (offset < size) {
        if (stop.getAsBoolean()) {
          return null;
        }
        ChunkPool.Chunk c = read(ch, pool, capture, offset, Math.min(chunkSize, size - offset), size, file);
        hash(hasher, digest, c.hold(2));
        ObjectNode head = Json.object();
        head.put("id", id);
        head.put("offset", offset);
        try {
          link.sendNow(ConnectivityFrame.FILE_CHUNK, head, c.data, 0, c.length);
        } finally {
          c.release();
        }
        offset += c.length;
        long now = System.nanoTime();
        if (now - lastProgress > PROGRESS_EVERY_NANOS || offset == size) {
          lastProgress = now;
          progress.accept(offset);
        }
      }
      hasher.drain();
      return HexFormat.of().formatHex(digest.digest());
    } finally {
      hasher.close();
    }
  }

  private static ChunkPool.Chunk read(FileChannel ch, ChunkPool pool, Snapshot capture, long pos, long want, long expected,
      Path file) throws IOException, InterruptedException {
    if (capture != null) {
      capture.awaitCopied(pos + want);
    }
    ChunkPool.Chunk c = pool.take();
    int n = ch.read(ByteBuffer.wrap(c.data, 0, (int) want), pos);
    if (n <= 0) {
      throw new IOException("snapshot " + file + " is shorter than " + expected + " bytes");
    }
    c.length = n;
    return c;
  }

  private static void hash(SerialLane hasher, MessageDigest digest, ChunkPool.Chunk c) throws InterruptedException {
    hasher.submit(() -> {
      digest.update(c.data, 0, c.length);
      c.release();
    }, c::release);
  }
}
