package dev.tether.daemon.internal.link;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Pure functions, any thread: the one-time pairing code (16 characters of Crockford base32, 80 random bits), how it
 * is shown and typed, the nonces, and the proof both sides give of knowing it: {@code HMAC-SHA256(code, label |
 * listener fingerprint | connector fingerprint | listener nonce | connector nonce)}, labelled "connector" or "listener".
 */
final class PairingCode {
  private static final char[] BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
  static final String CONNECTOR = "connector";
  static final String LISTENER = "listener";

  private PairingCode() {}

  /** A fresh code of 80 random bits, as 16 base32 characters without separators. */
  static String generate() {
    byte[] random = new byte[10];
    new SecureRandom().nextBytes(random);
    return base32(random);
  }

  static String base32(byte[] bytes) {
    StringBuilder sb = new StringBuilder();
    int buffer = 0;
    int bits = 0;
    for (byte b : bytes) {
      buffer = (buffer << 8) | (b & 0xff);
      bits += 8;
      while (bits >= 5) {
        sb.append(BASE32[(buffer >> (bits - 5)) & 31]);
        bits -= 5;
      }
    }
    return sb.toString();
  }

  /** The code as shown: four groups of four, {@code XXXX-XXXX-XXXX-XXXX}. */
  static String format(String code) {
    return code.substring(0, 4) + "-" + code.substring(4, 8) + "-" + code.substring(8, 12) + "-" + code.substring(12);
  }

  /** The code as typed, back to its canonical form (case, separators, and the letters base32 leaves out). */
  static String normalize(String code) {
    return code.toUpperCase().replace("-", "").replace(" ", "").replace('O', '0').replace('I', '1').replace('L', '1');
  }

  /** The proof of {@code label}'s side that it knows {@code code}. */
  static byte[] mac(String code, String label, String listenerFp, String connectorFp, String nonceL, String nonceC) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(normalize(code).getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return m.doFinal(String.join("|", "tether-pair-v1", label, listenerFp, connectorFp, nonceL, nonceC)
          .getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** 128 fresh random bits, in hex. */
  static String nonce() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
