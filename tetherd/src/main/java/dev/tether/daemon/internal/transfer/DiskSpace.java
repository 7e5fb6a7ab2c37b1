package dev.tether.daemon.internal.transfer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Stateless; called on reader threads (creation) and workers (before a body): the free-space check made before a
 * download of known size starts (its {@code Content-Length}, or the app's expected-bytes hint when it is created): the
 * body is written to a part file in the home and then renamed into place, or copied when the destination is on another
 * disk, so each disk involved must have room for it.
 */
final class DiskSpace {
  private DiskSpace() {}

  /**
   * Why {@code bytes} more cannot be stored, naming the folder and how much to free; null when there is room (or the
   * free space cannot be read, in which case a full disk is still caught by the write itself).
   *
   * @param partFolder where the part file grows
   * @param bytes bytes still to arrive
   * @param destination where the finished file goes, or null when it stays in the home until the app takes it
   * @param total the whole file's size (what a copy to another disk needs)
   */
  static String shortfall(Path partFolder, long bytes, Path destination, long total) {
    try {
      // File.getUsableSpace is one statvfs; FileStore would parse the mount table on every call
      long free = partFolder.toFile().getUsableSpace();
      if (bytes > free) {
        return message(bytes, partFolder, free, "or move the Tether home (--home or TETHER_HOME) to a bigger disk");
      }
      if (destination != null && destination.getParent() != null) {
        Path folder = destination.getParent();
        if (!Files.getAttribute(folder, "unix:dev").equals(Files.getAttribute(partFolder, "unix:dev"))) {
          long freeThere = folder.toFile().getUsableSpace();
          if (total > freeThere) {
            return message(total, folder, freeThere, "or choose a destination on another disk");
          }
        }
      }
      return null;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException | SecurityException e) {
      return null;
    }
  }

  private static String message(long needed, Path folder, long free, String alternative) {
    return "not enough disk space for this download: it needs " + HttpAttempt.mib(needed) + " (" + needed + " bytes) in "
        + folder + ", where only " + HttpAttempt.mib(free) + " is free; free at least " + HttpAttempt.mib(needed - free)
        + " there " + alternative + ", then start the download again";
  }
}
