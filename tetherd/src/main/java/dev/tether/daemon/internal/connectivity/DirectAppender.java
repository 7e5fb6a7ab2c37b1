package dev.tether.daemon.internal.connectivity;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends a received file to its partial file with direct I/O ({@code O_DIRECT}): whole aligned blocks go from an
 * aligned staging buffer to the disk without passing through the page cache, which saves the kernel's copy into the
 * cache and its later write-back (about half the CPU of buffered writes for a large file). Bytes short of a block stay
 * staged until {@link #flushTail()} writes them through the ordinary channel. Where the file system refuses direct
 * I/O, {@link #open} returns null, and a write it refuses later switches this appender to the ordinary channel.
 */
final class DirectAppender {
  private static final Logger log = LoggerFactory.getLogger(DirectAppender.class);
  /** Alignment of offsets, lengths and buffer addresses: 4 KiB suits every common disk and file system. */
  static final int ALIGN = 4096;

  private final Path file;
  private final FileChannel plain;
  private FileChannel direct;
  private final ByteBuffer staging;
  private long stagedAt;

  private DirectAppender(Path file, FileChannel plain, FileChannel direct, long start, int capacity) {
    this.file = file;
    this.plain = plain;
    this.direct = direct;
    this.stagedAt = start;
    this.staging = ByteBuffer.allocateDirect(capacity + ALIGN).alignedSlice(ALIGN);
  }

  /**
   * An appender writing {@code file} from {@code start} (a multiple of {@link #ALIGN}) on, staging up to
   * {@code capacity} bytes (rounded up to whole blocks); {@code plain} is the file's ordinary channel, which the
   * caller keeps and closes. Null when the file system does not do direct I/O.
   */
  static DirectAppender open(Path file, FileChannel plain, long start, int capacity) {
    if (start % ALIGN != 0) {
      throw new IllegalArgumentException("start " + start + " is not a multiple of " + ALIGN);
    }
    int cap = (Math.max(capacity, ALIGN) + ALIGN - 1) / ALIGN * ALIGN;
    FileChannel direct;
    try {
      direct = FileChannel.open(file, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
    } catch (IOException | UnsupportedOperationException e) {
      log.debug("no direct I/O for {}: {}", file, e.toString());
      return null;
    }
    return new DirectAppender(file, plain, direct, start, cap);
  }

  /** The file offset the next appended byte goes to. */
  long end() {
    return stagedAt + staging.position();
  }

  /** Bytes that reached the file (those still staged not counted). */
  long written() {
    return stagedAt;
  }

  /** Appends {@code len} bytes of {@code data} at {@link #end()}; whole staging buffers are written as they fill. */
  void append(byte[] data, int off, int len) throws IOException {
    while (len > 0) {
      int n = Math.min(len, staging.remaining());
      staging.put(data, off, n);
      off += n;
      len -= n;
      if (!staging.hasRemaining()) {
        writeStaged(staging.position());
      }
    }
  }

  /** Writes what is staged, the whole blocks directly and the rest through the ordinary channel. */
  void flushTail() throws IOException {
    int whole = staging.position() / ALIGN * ALIGN;
    if (whole > 0) {
      writeStaged(whole);
    }
    if (staging.position() > 0) {
      staging.flip();
      long at = stagedAt;
      while (staging.hasRemaining()) {
        at += plain.write(staging, at);
      }
      stagedAt = at;
      staging.clear();
    }
  }

  /** Writes the first {@code n} staged bytes (whole blocks unless this appender fell back) and keeps the rest. */
  private void writeStaged(int n) throws IOException {
    int staged = staging.position();
    staging.position(0).limit(n);
    long at = stagedAt;
    try {
      while (staging.hasRemaining()) {
        at += (direct != null ? direct : plain).write(staging, at);
      }
    } catch (IOException e) {
      if (direct == null || !refused(e)) {
        throw e;
      }
      log.info("direct I/O refused for {} ({}); writing through the page cache", file, e.getMessage());
      closeDirect();
      while (staging.hasRemaining()) {
        at += plain.write(staging, at);
      }
    }
    stagedAt = at;
    staging.limit(staged).position(n);
    staging.compact();
  }

  /** A write the file system refuses for direct I/O (EINVAL), as opposed to a full disk or an I/O error. */
  private static boolean refused(IOException e) {
    String m = e.getMessage();
    return m != null && m.contains("Invalid argument");
  }

  /** Closes the direct channel (the ordinary one belongs to the caller); staged bytes not flushed are dropped. */
  void close() {
    closeDirect();
  }

  private void closeDirect() {
    if (direct != null) {
      try {
        direct.close();
      } catch (IOException ignored) {
        // closing anyway
      }
      direct = null;
    }
  }

  /** True when {@code dir}'s file system takes direct writes (for tests and diagnostics). */
  static boolean supported(Path dir) throws IOException {
    Path probe = Files.createTempFile(dir, "direct", ".probe");
    try (FileChannel plain = FileChannel.open(probe, StandardOpenOption.WRITE)) {
      DirectAppender a = open(probe, plain, 0, ALIGN);
      if (a == null) {
        return false;
      }
      try {
        a.append(new byte[ALIGN], 0, ALIGN);
        return a.direct != null;
      } finally {
        a.close();
      }
    } finally {
      Files.deleteIfExists(probe);
    }
  }
}
