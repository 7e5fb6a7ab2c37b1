package dev.tether;

/**
 * What went wrong, as a stable code a program can switch on. Every {@link TetherException} carries one.
 *
 * <p>Codes are grouped by the part of Tether that raises them; the connectivity codes mirror Apple's
 * {@code WCError} so that a reader who knows that API recognises them.
 */
public enum ErrorCode {
  // General and daemon
  /** Something failed that has no more specific code; the message says what. */
  GENERIC,
  /** The request or a value in it is malformed: a missing field, a bad URL, a negative size. */
  INVALID_PARAMETER,
  /** The daemon and the client speak different protocol versions. */
  PROTOCOL_MISMATCH,
  /** A frame could not be decoded: it is too large, truncated, or not a valid message. */
  CORRUPT_FRAME,
  /** The daemon is not running and could not be started, or the connection to it was lost. */
  DAEMON_UNAVAILABLE,
  /** The connecting process runs as another OS user than the daemon. */
  PERMISSION_DENIED,
  /** The request names an operation the daemon does not know. */
  UNKNOWN_OPERATION,
  /** The call did not finish in time. */
  TIMED_OUT,

  // Apps and background tasks
  /** No app with this id is registered. */
  UNKNOWN_APP,
  /** {@code setTaskCompleted()} was called a second time on the same background task. */
  TASK_ALREADY_COMPLETED,
  /** The background task is not known (it may have expired). */
  UNKNOWN_TASK,

  // URL sessions and transfers
  /** No session with this identifier exists for the app. */
  UNKNOWN_SESSION,
  /** No transfer with this id exists in the session (or it belongs to another app). */
  UNKNOWN_TRANSFER,
  /** The URL is relative, not HTTP(S), or plain HTTP to a non-loopback host without permission. */
  INVALID_URL,
  /** A file that should exist does not, or cannot be read. */
  FILE_NOT_FOUND,
  /** A destination cannot be written. */
  FILE_ACCESS_DENIED,
  /** There is not enough disk space to store the data. */
  INSUFFICIENT_SPACE,
  /** The server's answer could not be understood. */
  BAD_SERVER_RESPONSE,
  /** The transfer was cancelled. */
  CANCELLED,
  /** The transfer was cancelled because the user force-quit the app. */
  USER_FORCE_QUIT_APPLICATION,
  /** The transfer did not finish within its resource timeout. */
  RESOURCE_TIMED_OUT,
  /** The server refused the transfer (an HTTP error status that retrying will not change). */
  HTTP_ERROR,
  /** The network failed and retrying did not help before the deadline. */
  NETWORK_ERROR,
  /** The operation is not valid in the transfer's current state. */
  INVALID_STATE,

  // Paired-device connectivity (WCError)
  /** Connectivity is not supported on this device. */
  SESSION_NOT_SUPPORTED,
  /** The session has no delegate. */
  SESSION_MISSING_DELEGATE,
  /** The session has not been activated. */
  SESSION_NOT_ACTIVATED,
  /** This device is not paired with another. */
  DEVICE_NOT_PAIRED,
  /** The peer presented a certificate that is not the one pinned at pairing. */
  PEER_NOT_TRUSTED,
  /** The pairing code is wrong, expired, or was burnt after too many tries. */
  PAIRING_FAILED,
  /** The counterpart app is not installed on the paired device. */
  COUNTERPART_APP_NOT_INSTALLED,
  /** The counterpart is not reachable right now. */
  NOT_REACHABLE,
  /** The payload is larger than allowed. */
  PAYLOAD_TOO_LARGE,
  /** The payload holds a value that is not a property-list type. */
  PAYLOAD_UNSUPPORTED_TYPES,
  /** The reply to a message could not be delivered. */
  MESSAGE_REPLY_FAILED,
  /** The reply to a message did not arrive in time. */
  MESSAGE_REPLY_TIMED_OUT,
  /** The data could not be delivered. */
  DELIVERY_FAILED,
  /** The session is inactive (the active companion changed). */
  SESSION_INACTIVE,
  /** A transfer did not finish in time. */
  TRANSFER_TIMED_OUT;
}
