package dev.tether.protocol;

import java.util.Objects;

/**
 * A failure with a wire {@link ErrorCode}, as tetherd and the protocol's codecs raise it; tetherd answers a request
 * that failed so with an {@code error} frame of its code and message. Not what apps catch: the client turns it into
 * the app's {@code dev.tether.TetherException} at its edge ({@code dev.tether.internal.Errors}), code for code.
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
