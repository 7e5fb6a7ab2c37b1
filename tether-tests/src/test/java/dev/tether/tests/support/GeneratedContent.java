package dev.tether.tests.support;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Deterministic pseudo-random bytes of any size, addressable by offset, so a test server can serve ranges of it. */
public final class GeneratedContent {
  static final int BLOCK = 64 * 1024;
  private final long seed;
  private final long size;

  public GeneratedContent(long seed, long size) {
    this.seed = seed;
    this.size = size;
  }

  public long size() {
    return size;
  }

  public long seed() {
    return seed;
  }

  /** Fills {@code out} with block {@code k} (the last block may be shorter; returns its length). */
  int block(long k, byte[] out) {
    long start = k * BLOCK;
    int len = (int) Math.min(BLOCK, size - start);
    long x = seed * 0x9E3779B97F4A7C15L + k * 0xBF58476D1CE4E5B9L + 1;
    for (int i = 0; i < len; i += 8) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      for (int j = 0; j < 8 && i + j < len; j++) {
        out[i + j] = (byte) (x >>> (j * 8));
      }
    }
    return len;
  }

  public String sha256() {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[BLOCK];
      for (long k = 0; k * BLOCK < size; k++) {
        md.update(buf, 0, block(k, buf));
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writes the content to {@code file} and returns its SHA-256 (hex). */
  public String writeTo(java.nio.file.Path file) {
    try (var out = java.nio.file.Files.newOutputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[BLOCK];
      for (long k = 0; k * BLOCK < size; k++) {
        int len = block(k, buf);
        md.update(buf, 0, len);
        out.write(buf, 0, len);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public static String sha256(java.nio.file.Path file) {
    try (var in = java.nio.file.Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 20];
      int n;
      while ((n = in.read(buf)) >= 0) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
