package dev.tether;

import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A background URL session: transfers run in tetherd and go on after this process exits; events come to the
 * {@link UrlSessionDelegate} while a process of the app has the session open. Opening a session with an identifier
 * that has transfers re-attaches to them. Get one with {@link Tether#urlSession(SessionConfiguration, UrlSessionDelegate)}.
 */
public interface UrlSession {
  SessionConfiguration configuration();

  /** Starts describing a download of {@code url}; {@link DownloadRequest#start()} creates it. */
  DownloadRequest download(URI url);

  /** Starts describing an upload of {@code file}'s contents to {@code url}. */
  UploadRequest upload(Path file, URI url);

  /** Continues a download cancelled with {@link DownloadTransfer#cancelProducingResumeData()}. */
  DownloadTransfer downloadWithResumeData(byte[] resumeData);

  /** Every transfer of this session tetherd knows, completed ones included (Apple: {@code getAllTasks}). */
  List<Transfer> allTransfers();

  /**
   * Completes once the session's pending events were delivered and acknowledged ({@code eventsFinished} ran), or at
   * once when the session had no pending events and no running transfer when it was opened. Return it from a
   * URL-session background task's handler.
   */
  CompletableFuture<Void> eventsDelivered();

  /** Stops delivering events to this process; transfers go on (Apple: {@code finishTasksAndInvalidate}). */
  void finishTransfersAndInvalidate();

  /** Cancels every transfer of the session and stops delivering events here (Apple: {@code invalidateAndCancel}). */
  void invalidateAndCancel();

  /** Describes a download before it starts. Not thread-safe. */
  interface DownloadRequest {
    /** Not before this instant (Apple: {@code earliestBeginDate}); not exact. */
    DownloadRequest notBefore(Instant earliest);

    /** Free text to recognise the transfer after a relaunch. */
    DownloadRequest description(String description);

    /** A hint of the body's size. */
    DownloadRequest expectedBytes(long bytes);

    /** tetherd moves the finished file here itself; the folder must exist and be writable. */
    DownloadRequest destination(Path file);

    /** Creates the transfer in tetherd; throws {@link TetherException} for bad input (URL, destination). */
    DownloadTransfer start();
  }

  /** Describes an upload before it starts. Not thread-safe. */
  interface UploadRequest {
    /** {@code PUT} (the default) or {@code POST}. */
    UploadRequest method(String method);

    UploadRequest notBefore(Instant earliest);

    UploadRequest description(String description);

    UploadRequest expectedBytes(long bytes);

    UploadTransfer start();
  }
}
