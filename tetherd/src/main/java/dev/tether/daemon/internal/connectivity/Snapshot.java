package dev.tether.daemon.internal.connectivity;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A file being captured for a transfer: the app's file is copied into the outbox (a kernel-side copy) in slices while
 * the sender already reads what is copied, so copying, sending and the capture's fsync overlap. The app's call returns
 * only after the whole copy is durable. Until then a marker {@code ID.copying} sits beside the copy; a daemon that
 * starts and finds one drops that transfer, since its app was never told it was queued.
 */
final class Snapshot {
  static final String MARKER = ".copying";
  private static final long SLICE = 8L * 1024 * 1024;

  private final Path file;
  private final long size;
  private long copied;
  private String failure;

  Snapshot(Path file, long size) {
    this.file = file;
    this.size = size;
  }

  long size() {
    return size;
  }

  /**
   * Copies {@code size} bytes of {@code in} to {@code out} slice by slice, publishing each one. Returns the bytes
   * copied: fewer than {@code size} when the source shrank meanwhile.
   */
  long copy(FileChannel in, FileChannel out) throws IOException {
    long done = 0;
    while (done < size) {
      long n = in.transferTo(done, Math.min(SLICE, size - done), out);
      if (n <= 0) {
        break;
      }
      done += n;
      synchronized (this) {
        copied = done;
        notifyAll();
      }
    }
    return done;
  }

  /** The capture failed: readers waiting for bytes give up as if the transfer had been cancelled. */
  synchronized void fail(String why) {
    failure = why;
    notifyAll();
  }

  /** Waits until the first {@code until} bytes are copied. */
  synchronized void awaitCopied(long until) throws InterruptedException, NoSuchFileException {
    while (copied < Math.min(until, size) && failure == null) {
      wait();
    }
    if (failure != null) {
      throw new NoSuchFileException(file.toString(), null, "the capture of the app's file failed: " + failure);
    }
  }
}
