package dev.tether;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The app's channel to its counterpart on the paired device (Apple: {@code WCSession}); get it with
 * {@link Tether#connectivity(ConnectivityDelegate)} and call {@link #activate()}.
 *
 * <p>Payloads are property lists: String, Boolean, Integer, Long, Double, Instant/Date, byte[], List and
 * Map&lt;String, ?&gt;; anything else is refused at the call with PAYLOAD_UNSUPPORTED_TYPES naming the path of the value.
 * Messages and user info are limited to 64 KiB and an application context to 256 KiB, encoded (PAYLOAD_TOO_LARGE).
 *
 * <p>Everything except live messages is stored on both devices before it is acknowledged: user info and files reach
 * the counterpart's delegate exactly once and in order, whatever process dies and however often the link drops.
 */
public interface ConnectivitySession {
  /** Activates the session; completes with the new state once the daemon attached it (deliveries start then). */
  CompletableFuture<ActivationState> activate();

  ActivationState activationState();

  /** Whether this device is paired (for a primary: has an active companion). */
  boolean isPaired();

  /** Whether the counterpart app has activated a session on the paired device at least once. */
  boolean isCounterpartAppInstalled();

  /** Whether the counterpart app's complication is enabled on the companion. */
  boolean isComplicationEnabled();

  /** The link is up and the counterpart app is running. */
  boolean isReachable();

  /**
   * For a companion app: declares whether its complication is on the active face (what the primary sees as
   * {@link #isComplicationEnabled()}). Takes effect at the next {@link #activate()}.
   */
  ConnectivitySession complicationEnabled(boolean enabled);

  /**
   * Sends a live message (not stored); completes when the counterpart's delegate handled it. Fails with
   * {@code NOT_REACHABLE} when the counterpart is not reachable or the link drops before it answered, and with
   * {@code TRANSFER_TIMED_OUT} when its delegate has not handled the message within 30 seconds.
   */
  CompletableFuture<Void> sendMessage(Map<String, ?> message);

  /**
   * Sends a live message and waits up to {@code replyTimeout} for the reply ({@code MESSAGE_REPLY_TIMED_OUT}; a link
   * that drops before the reply fails it with {@code NOT_REACHABLE} at once).
   */
  CompletableFuture<Map<String, Object>> sendMessage(Map<String, ?> message, Duration replyTimeout);

  /** Sends live message data; completes when the counterpart's delegate handled it (failures as {@link #sendMessage(Map)}). */
  CompletableFuture<Void> sendMessageData(byte[] data);

  /** Sends live message data and waits up to {@code replyTimeout} for the reply data (failures as {@link #sendMessage(Map, Duration)}). */
  CompletableFuture<byte[]> sendMessageData(byte[] data, Duration replyTimeout);

  /**
   * Sets the application context (latest wins; may be called while unreachable). Returns false, sending nothing,
   * when it equals the context last set.
   */
  boolean updateApplicationContext(Map<String, ?> context);

  /** The application context this app last set. */
  Map<String, Object> applicationContext();

  /** The application context last received from the counterpart. */
  Map<String, Object> receivedApplicationContext();

  /** Queues user info for the counterpart; stored before this returns. */
  UserInfoTransfer transferUserInfo(Map<String, ?> userInfo);

  /**
   * Queues complication user info (primary to companion only) ahead of ordinary user info; 50 per rolling day while
   * the counterpart's complication is enabled, then it goes as ordinary user info.
   */
  UserInfoTransfer transferCurrentComplicationUserInfo(Map<String, ?> userInfo);

  /** Complication user info transfers left in the rolling day. */
  int remainingComplicationUserInfoTransfers();

  /** User info transfers of this app not yet stored by the paired device, in queue order. */
  List<UserInfoTransfer> outstandingUserInfoTransfers();

  /** Snapshots {@code file} now and queues it with {@code metadata}. */
  FileTransfer transferFile(Path file, Map<String, ?> metadata);

  /** File transfers of this app not yet stored by the paired device. */
  List<FileTransfer> outstandingFileTransfers();

  /** Received data not yet handed to this session's delegate. */
  boolean hasContentPending();

  /** Completes once the session is activated and nothing is pending (what a connectivity task waits for). */
  CompletableFuture<ConnectivitySession> drained();
}
