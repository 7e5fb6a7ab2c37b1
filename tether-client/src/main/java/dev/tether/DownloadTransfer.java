package dev.tether;

import java.util.concurrent.CompletableFuture;

/** A download to a file (Apple: {@code URLSessionDownloadTask}). */
public interface DownloadTransfer extends Transfer {
  /**
   * Cancels the download and keeps what it received: the future completes with opaque resume data that
   * {@link UrlSession#downloadWithResumeData(byte[])} accepts, or with {@code null} when the server's answers do not
   * allow resuming (no validator or no byte ranges).
   */
  CompletableFuture<byte[]> cancelProducingResumeData();
}
