package dev.tether;

import java.nio.file.Path;

/** An upload of a file's contents (Apple: {@code URLSessionUploadTask}). */
public interface UploadTransfer extends Transfer {
  /** The file being sent. */
  Path file();
}
