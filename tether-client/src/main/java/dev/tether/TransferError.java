package dev.tether;

import java.util.Objects;

/** Why a transfer completed unsuccessfully: a stable {@link ErrorCode} and a message a person can act on. */
public final class TransferError {
  private final ErrorCode code;
  private final String message;

  public TransferError(ErrorCode code, String message) {
    this.code = Objects.requireNonNull(code, "code");
    this.message = message == null ? "" : message;
  }

  public ErrorCode code() {
    return code;
  }

  public String message() {
    return message;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TransferError e && e.code == code && e.message.equals(message);
  }

  @Override
  public int hashCode() {
    return Objects.hash(code, message);
  }

  @Override
  public String toString() {
    return code + ": " + message;
  }
}
