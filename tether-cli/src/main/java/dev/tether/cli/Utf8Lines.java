package dev.tether.cli;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The lines of a UTF-8 text file (ended by {@code \n}, {@code \r\n} or {@code \r}, as {@code BufferedReader} ends
 * them), each decoded strictly on its own, so that invalid UTF-8 is reported with the file, its line number and the
 * byte's column rather than the JDK's bare "Input length = 1" (which a reader decoding ahead cannot place on a line).
 * Runs on the caller's thread; not thread-safe.
 */
final class Utf8Lines implements Closeable {
  private final Path file;
  private final String option;
  private final InputStream in;
  private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
  private byte[] line = new byte[8192];
  private int lineNumber;
  private boolean afterCr;

  /** {@code option} names where the file came from in errors ({@code --from}). */
  Utf8Lines(Path file, String option) throws IOException {
    this.file = file;
    this.option = option;
    this.in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
  }

  /** The number of the line {@link #next()} returned last (1-based). */
  int lineNumber() {
    return lineNumber;
  }

  /**
   * The next line without its ending, or null at the end of the file.
   *
   * @throws TetherException INVALID_PARAMETER naming the file, the line and the column when the line is not valid UTF-8
   */
  String next() throws IOException {
    int n = 0;
    int b = in.read();
    if (afterCr && b == '\n') {
      b = in.read();
    }
    afterCr = false;
    if (b < 0) {
      return null;
    }
    while (b >= 0 && b != '\n' && b != '\r') {
      if (n == line.length) {
        line = Arrays.copyOf(line, Math.max(line.length * 2, 16));
      }
      line[n++] = (byte) b;
      b = in.read();
    }
    afterCr = b == '\r';
    lineNumber++;
    ByteBuffer bytes = ByteBuffer.wrap(line, 0, n);
    try {
      return decoder.reset().decode(bytes).toString();
    } catch (CharacterCodingException e) {
      int at = bytes.position();
      throw new TetherException(ErrorCode.INVALID_PARAMETER, file + " (" + option + ") line " + lineNumber
          + " is not valid UTF-8: byte 0x" + String.format("%02X", line[at] & 0xff) + " at column " + (at + 1)
          + "; save the file as UTF-8");
    }
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
