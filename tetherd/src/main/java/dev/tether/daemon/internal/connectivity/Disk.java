package dev.tether.daemon.internal.connectivity;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stateless; any thread: file and disk helpers of the connectivity lanes (digests, folder syncs, quiet deletes,
 * full-disk checks).
 */
final class Disk {
  private static final Logger log = LoggerFactory.getLogger(Disk.class);

  private Disk() {}

  static long sizeOf(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      return -1;
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void syncDir(Path dir) throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", p, e.toString());
    }
  }

  static TetherException insufficientSpace(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof TetherException te && te.code() == ErrorCode.INSUFFICIENT_SPACE) {
        return te;
      }
    }
    return null;
  }

  static boolean diskFull(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && (m.contains("No space left") || m.contains("SQLITE_FULL") || m.contains("database or disk is full"))) {
        return true;
      }
    }
    return false;
  }
}
