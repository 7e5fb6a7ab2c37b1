package dev.tether;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Receives a background session's events (Apple: {@code URLSessionDownloadDelegate} and friends). Calls for one
 * session come one at a time, in order, on the connection's delivery thread. Each event is acknowledged to tetherd
 * after the method returns; one that was not (the process died) is delivered again when the session is next opened.
 * Every method has a default that does nothing.
 */
public interface UrlSessionDelegate {
  /** Bytes arrived (at most every 250 ms per transfer while this process has the session open; not replayed). */
  default void progress(DownloadTransfer transfer, long bytesDone, long bytesExpected) {}

  /**
   * The download finished. {@code file} exists only until this method returns: move it away. When the download named
   * a destination, {@code file} is that destination and stays.
   */
  default void downloadFinished(DownloadTransfer transfer, Path file) throws Exception {}

  /** Bytes were sent (live only, like {@link #progress}). */
  default void uploadProgress(UploadTransfer transfer, long bytesSent, long bytesExpected) {}

  /** A server asked for credentials; the transfer waits for the answer. The default gives none. */
  default ChallengeResponse challenge(Transfer transfer, AuthenticationChallenge challenge) throws Exception {
    return ChallengeResponse.performDefault();
  }

  /** The transfer completed: {@code error} is empty on success. Called exactly once per transfer. */
  default void transferCompleted(Transfer transfer, Optional<TransferError> error) {}

  /** Every event of the session was delivered and no transfer is running (Apple: {@code urlSessionDidFinishEvents}). */
  default void eventsFinished(UrlSession session) {}
}
