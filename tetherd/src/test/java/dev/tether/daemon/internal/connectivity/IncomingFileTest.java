package dev.tether.daemon.internal.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The receiving end of a file: chunks checked on arrival, written and hashed on lanes, resumed from the disk. */
class IncomingFileTest {
  static final int CHUNK = 64 * 1024;

  @TempDir Path tmp;

  @Test
  void chunksInOrderArriveWholeWithTheirSha256() throws Exception {
    byte[] content = random(5 * CHUNK + 123);
    Path part = tmp.resolve("a.part");
    IncomingFile f = IncomingFile.open("a", part, content.length, CHUNK);
    sendFrom(f, content, 0);
    assertThat(f.finish()).isEqualTo(sha256(content));
    assertThat(Files.readAllBytes(part)).isEqualTo(content);
  }

  @Test
  void aChunkOutOfOrderOrBeyondTheSizeIsACorruptFrameAndWritesNothing() throws Exception {
    byte[] content = random(4 * CHUNK);
    Path part = tmp.resolve("b.part");
    IncomingFile f = IncomingFile.open("b", part, content.length, CHUNK);
    byte[] first = f.buffer(CHUNK);
    System.arraycopy(content, 0, first, 0, CHUNK);
    f.accept(0, first, CHUNK);

    byte[] skipped = f.buffer(CHUNK);
    assertThatThrownBy(() -> f.accept(2L * CHUNK, skipped, CHUNK))
        .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_FRAME))
        .hasMessageContaining("next chunk starts at " + CHUNK);
    byte[] tooLong = new byte[4 * CHUNK];
    assertThatThrownBy(() -> f.accept(CHUNK, tooLong, tooLong.length))
        .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_FRAME))
        .hasMessageContaining("has " + content.length + " bytes");
    byte[] shortBuffer = new byte[10];
    assertThatThrownBy(() -> f.accept(CHUNK, shortBuffer, 20))
        .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_FRAME));
    f.abandon();
    assertThat(Files.readAllBytes(part)).as("only the accepted chunk is stored").isEqualTo(Arrays.copyOf(content, CHUNK));

    IncomingFile again = IncomingFile.open("b", part, content.length, CHUNK);
    assertThat(again.accepted()).as("resumes after the stored chunk").isEqualTo(CHUNK);
    sendFrom(again, content, CHUNK);
    assertThat(again.finish()).isEqualTo(sha256(content));
    assertThat(Files.readAllBytes(part)).isEqualTo(content);
  }

  @Test
  void aPartLongerThanTheOfferedSizeIsCutToIt() throws Exception {
    byte[] content = random(2 * CHUNK);
    Path part = tmp.resolve("c.part");
    Files.write(part, random(3 * CHUNK));
    IncomingFile f = IncomingFile.open("c", part, content.length, CHUNK);
    assertThat(f.accepted()).isEqualTo(content.length);
    assertThat(f.finish()).as("the stored bytes are what counts; the SHA-256 check catches a mismatch")
        .isNotEqualTo(sha256(content));
    assertThat(Files.size(part)).isEqualTo(content.length);
  }

  private static void sendFrom(IncomingFile f, byte[] content, long from) throws Exception {
    for (long off = from; off < content.length; ) {
      int n = (int) Math.min(CHUNK, content.length - off);
      byte[] buf = f.buffer(n);
      System.arraycopy(content, (int) off, buf, 0, n);
      f.accept(off, buf, n);
      off += n;
    }
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }
}
