package dev.tether;

import java.net.URI;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * An HTTP download or upload in a background {@link UrlSession} (Apple: {@code URLSessionTask}). It runs in tetherd,
 * so it goes on after the app exits; a later process re-attaches to it through {@link UrlSession#allTransfers()}.
 *
 * <p>The getters show what this process last heard from tetherd (updated before each delegate call).
 */
public interface Transfer {
  /** The transfer's id, unique within the daemon. */
  long id();

  /** The identifier of the session it belongs to. */
  String sessionIdentifier();

  /** The URL it was created with. */
  URI url();

  /** The free text the app gave it to recognise it after a relaunch. */
  Optional<String> description();

  TransferState state();

  /** Bytes received (downloads) or sent (uploads) so far. */
  long bytesDone();

  /** Bytes expected in all: from the server once known, else the app's hint, else -1. */
  long bytesExpected();

  /** The HTTP status of the last response, if any. */
  OptionalInt responseStatus();

  /** Why it failed, once completed with an error. */
  Optional<TransferError> error();

  /** Pauses the transfer; a running download keeps its partial data. */
  void suspend();

  /** Continues a suspended transfer. */
  void resume();

  /** Cancels the transfer; it completes with {@link ErrorCode#CANCELLED}. */
  void cancel();
}
