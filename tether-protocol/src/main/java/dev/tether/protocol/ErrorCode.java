package dev.tether.protocol;

/**
 * The error codes of the wire, as tetherd raises them and sends them in {@code error} frames: the daemon's side of
 * the app's {@code dev.tether.ErrorCode}, with the same names in the same order (the client maps one to the other by
 * name at its edge, and {@code ErrorsTest} in tether-client fails when the two lists differ). What each code means is
 * documented once, on the app's {@code dev.tether.ErrorCode}.
 */
public enum ErrorCode {
  // General and daemon
  GENERIC,
  INVALID_PARAMETER,
  PROTOCOL_MISMATCH,
  CORRUPT_FRAME,
  DAEMON_UNAVAILABLE,
  PERMISSION_DENIED,
  UNKNOWN_OPERATION,
  TIMED_OUT,

  // Apps and background tasks
  UNKNOWN_APP,
  TASK_ALREADY_COMPLETED,
  UNKNOWN_TASK,

  // URL sessions and transfers
  UNKNOWN_SESSION,
  UNKNOWN_TRANSFER,
  INVALID_URL,
  FILE_NOT_FOUND,
  FILE_ACCESS_DENIED,
  INSUFFICIENT_SPACE,
  BAD_SERVER_RESPONSE,
  CANCELLED,
  USER_FORCE_QUIT_APPLICATION,
  RESOURCE_TIMED_OUT,
  HTTP_ERROR,
  NETWORK_ERROR,
  INVALID_STATE,

  // Paired-device connectivity (WCError)
  SESSION_NOT_SUPPORTED,
  SESSION_MISSING_DELEGATE,
  SESSION_NOT_ACTIVATED,
  DEVICE_NOT_PAIRED,
  PEER_NOT_TRUSTED,
  PAIRING_FAILED,
  COUNTERPART_APP_NOT_INSTALLED,
  NOT_REACHABLE,
  PAYLOAD_TOO_LARGE,
  PAYLOAD_UNSUPPORTED_TYPES,
  MESSAGE_REPLY_FAILED,
  MESSAGE_REPLY_TIMED_OUT,
  DELIVERY_FAILED,
  SESSION_INACTIVE,
  TRANSFER_TIMED_OUT;
}
