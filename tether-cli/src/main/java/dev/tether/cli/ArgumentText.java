package dev.tether.cli;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;

/**
 * Checks of text the CLI took from its command line. Runs on the command's thread.
 *
 * <p>The JVM decodes the arguments with the platform's charset ({@code sun.jnu.encoding}, from the locale) before
 * {@code main} sees them, and replaces every byte it cannot decode with U+FFFD; the original bytes are gone. So an
 * argument holding U+FFFD is refused: it is what invalid UTF-8 (or any non-ASCII text under a non-UTF-8 locale)
 * becomes, and sending it would silently change the user's data. The price: the replacement character itself cannot
 * be given as an argument; {@code --from FILE} takes it (and reports invalid UTF-8 there with its line).
 */
final class ArgumentText {
  private ArgumentText() {}

  /** {@code value} unchanged, or INVALID_PARAMETER when the JVM could not decode it; {@code name} names it ("JSON"). */
  static String check(String value, String name) {
    if (value == null || value.indexOf('\uFFFD') < 0) {
      return value;
    }
    String charset = System.getProperty("sun.jnu.encoding", Charset.defaultCharset().name());
    boolean utf8 = charsetIs(charset, StandardCharsets.UTF_8);
    throw new TetherException(ErrorCode.INVALID_PARAMETER, "the " + name + " argument is not valid "
        + (utf8 ? "UTF-8" : "text in this locale's charset " + charset + " (set a UTF-8 locale, e.g. LANG=C.UTF-8)")
        + ": a byte at character " + (value.indexOf('\uFFFD') + 1) + " could not be decoded (it would be sent as U+FFFD)."
        + " Give valid UTF-8, or put the payload in a file and use --from FILE");
  }

  private static boolean charsetIs(String name, Charset charset) {
    try {
      return Charset.forName(name).equals(charset);
    } catch (RuntimeException e) {
      return false;
    }
  }
}
