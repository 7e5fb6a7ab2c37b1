package dev.tether;

import java.util.Map;
import java.util.Optional;

/** A queued file transfer (Apple: {@code WCSessionFileTransfer}). */
public interface FileTransfer {
  /** Unique id of the transfer. */
  String id();

  /** The file's name as the receiver will see it. */
  String fileName();

  /** The metadata sent with the file. */
  Map<String, Object> metadata();

  /** Size of the snapshot taken at the call. */
  long size();

  /** Bytes the paired device has been sent so far (updated while this process runs). */
  long bytesSent();

  /** True until the paired device has stored the whole file (or it was cancelled). */
  boolean isTransferring();

  /**
   * Why the paired device is holding this transfer back, if it is: for example {@link ErrorCode#INSUFFICIENT_SPACE}
   * when its disk is full. The transfer stays queued and is offered again until it arrives or is cancelled; this is
   * refreshed by {@link ConnectivitySession#outstandingFileTransfers()} and by
   * {@link ConnectivityDelegate#fileTransferBlocked}.
   */
  Optional<TetherException> blockedBy();

  /** Removes it from the queue; throws UNKNOWN_TRANSFER when it already finished. */
  void cancel();
}
