package dev.tether;

import java.util.Objects;

/**
 * A Tether operation failed. {@link #code()} says what kind of failure it was; the message says what a person can do
 * about it.
 */
public class TetherException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final ErrorCode code;

  public TetherException(ErrorCode code, String message) {
    super(message);
    this.code = Objects.requireNonNull(code, "code");
  }

  public TetherException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = Objects.requireNonNull(code, "code");
  }

  /** The kind of failure. */
  public ErrorCode code() {
    return code;
  }

  @Override
  public String toString() {
    return "TetherException[" + code + "]: " + getMessage();
  }
}
