package dev.tether.internal;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.io.IOException;
import java.util.function.Supplier;

/**
 * The client's edge for failures: what tether-protocol's codecs (and an in-process tetherd) raise, a
 * {@link dev.tether.protocol.TetherException} with a wire code, reaches apps as the public {@link TetherException}
 * with the {@link ErrorCode} of the same name, message, cause and stack. Pure; any thread.
 */
public final class Errors {
  private Errors() {}

  /** The app's code for a wire code: the same name ({@code ErrorsTest} keeps the two lists equal). */
  public static ErrorCode code(dev.tether.protocol.ErrorCode wire) {
    return ErrorCode.valueOf(wire.name());
  }

  /** The app's exception for a wire failure. */
  public static TetherException toPublic(dev.tether.protocol.TetherException e) {
    TetherException mapped = new TetherException(code(e.code()), e.getMessage(), e.getCause());
    mapped.setStackTrace(e.getStackTrace());
    for (Throwable s : e.getSuppressed()) {
      mapped.addSuppressed(s);
    }
    return mapped;
  }

  /** {@code f}'s result; a wire failure it raises is thrown as the app's {@link TetherException}. */
  public static <T> T translate(Supplier<T> f) {
    try {
      return f.get();
    } catch (dev.tether.protocol.TetherException e) {
      throw toPublic(e);
    }
  }

  /** Like {@link #translate(Supplier)} for I/O. */
  public static <T> T translateIo(IoSupplier<T> f) throws IOException {
    try {
      return f.get();
    } catch (dev.tether.protocol.TetherException e) {
      throw toPublic(e);
    }
  }

  /** Like {@link #translateIo(IoSupplier)} for I/O without a result. */
  public static void translateIoRun(IoRunnable f) throws IOException {
    try {
      f.run();
    } catch (dev.tether.protocol.TetherException e) {
      throw toPublic(e);
    }
  }

  /** I/O without a result. */
  @FunctionalInterface
  public interface IoRunnable {
    void run() throws IOException;
  }

  /** A computation that may fail with an {@link IOException}. */
  @FunctionalInterface
  public interface IoSupplier<T> {
    T get() throws IOException;
  }
}
