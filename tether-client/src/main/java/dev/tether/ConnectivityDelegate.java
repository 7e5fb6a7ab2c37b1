package dev.tether;

import java.util.Map;
import java.util.Optional;

/**
 * Receives a {@link ConnectivitySession}'s events (Apple: {@code WCSessionDelegate}). Every method has a default that
 * does nothing; implement what the app needs. Calls for one session run one at a time, in order, on a thread of the
 * session's own. Received data is acknowledged to tetherd only after the method returns; a method that throws is
 * logged and the data still counts as received.
 */
public interface ConnectivityDelegate {
  /** {@code activate()} finished. */
  default void activationCompleted(ConnectivitySession session, ActivationState state) {}

  /** The primary is switching to another companion; the session can no longer send (Apple: {@code sessionDidBecomeInactive}). */
  default void sessionBecameInactive(ConnectivitySession session) {}

  /** The switch finished; call {@link ConnectivitySession#activate()} again to talk to the new companion. */
  default void sessionDeactivated(ConnectivitySession session) {}

  /** {@link ConnectivitySession#isReachable()} changed. */
  default void reachabilityChanged(ConnectivitySession session) {}

  /** Paired, installed or complication state changed (Apple: {@code sessionWatchStateDidChange}). */
  default void pairingStateChanged(ConnectivitySession session) {}

  /** A live message that expects no reply. */
  default void messageReceived(ConnectivitySession session, Map<String, Object> message) {}

  /** A live message whose sender waits for the returned reply. */
  default Map<String, Object> messageReceivedWithReply(ConnectivitySession session, Map<String, Object> message) {
    messageReceived(session, message);
    return Map.of();
  }

  /** Live message data that expects no reply. */
  default void messageDataReceived(ConnectivitySession session, byte[] data) {}

  /** Live message data whose sender waits for the returned reply. */
  default byte[] messageDataReceivedWithReply(ConnectivitySession session, byte[] data) {
    messageDataReceived(session, data);
    return new byte[0];
  }

  /** The counterpart's newest application context. */
  default void applicationContextReceived(ConnectivitySession session, Map<String, Object> applicationContext) {}

  /** A user info transfer (ordinary or complication) from the counterpart, in the order it was sent. */
  default void userInfoReceived(ConnectivitySession session, Map<String, Object> userInfo) {}

  /**
   * A user info transfer this app queued reached the paired device ({@code error} empty), or can never reach it:
   * {@link ErrorCode#DELIVERY_FAILED} when the device it was queued for was unpaired first. Such a failure is kept by
   * tetherd until this method has returned for it, so an app that was not running hears of it after its next
   * {@link ConnectivitySession#activate()}, once.
   */
  default void userInfoTransferFinished(ConnectivitySession session, UserInfoTransfer transfer, Optional<TetherException> error) {}

  /**
   * The paired device refused user info this app queued for now, typically {@link ErrorCode#INSUFFICIENT_SPACE} when
   * its disk is full. Not a failure: the transfers stay in {@link ConnectivitySession#outstandingUserInfoTransfers()},
   * in order, and are offered again (after 1, 2, 4, then every 5 seconds) until they arrive, when
   * {@link #userInfoTransferFinished} follows for each. Called once per episode, when the first is refused.
   */
  default void userInfoTransfersBlocked(ConnectivitySession session, TetherException error) {}

  /** A file from the counterpart; the file is deleted when this method returns unless the app moved it. */
  default void fileReceived(ConnectivitySession session, ReceivedFile file) {}

  /** A file transfer this app queued made progress ({@link FileTransfer#bytesSent()}). */
  default void fileTransferProgress(ConnectivitySession session, FileTransfer transfer) {}

  /**
   * The paired device refused a file transfer this app queued for now, typically {@link ErrorCode#INSUFFICIENT_SPACE}
   * when its disk is full. Not a failure: the transfer stays in {@link ConnectivitySession#outstandingFileTransfers()}
   * and is offered again (after 1, 2, 4, then every 5 seconds) until it arrives, when
   * {@link #fileTransferFinished} follows; cancel it to give up. Called again after each refused attempt.
   */
  default void fileTransferBlocked(ConnectivitySession session, FileTransfer transfer, TetherException error) {}

  /**
   * A file transfer this app queued reached the paired device ({@code error} empty), or can never reach it:
   * {@link ErrorCode#DELIVERY_FAILED} when the device it was queued for was unpaired first (kept and told as for
   * {@link #userInfoTransferFinished}).
   */
  default void fileTransferFinished(ConnectivitySession session, FileTransfer transfer, Optional<TetherException> error) {}
}
