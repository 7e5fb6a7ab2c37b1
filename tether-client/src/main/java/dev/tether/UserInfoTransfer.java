package dev.tether;

import java.util.Map;

/** A queued user info transfer (Apple: {@code WCSessionUserInfoTransfer}). */
public interface UserInfoTransfer {
  /** Unique id of the transfer. */
  String id();

  /** What is being sent. */
  Map<String, Object> userInfo();

  /** True when it went as complication user info (ahead of the queue). */
  boolean isCurrentComplicationInfo();

  /** True until the paired device has stored it (or it was cancelled). */
  boolean isTransferring();

  /** Removes it from the queue if it has not been delivered yet; throws UNKNOWN_TRANSFER when it already finished. */
  void cancel();
}
