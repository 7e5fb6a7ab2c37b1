package dev.tether.daemon.internal.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
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

  @Test
  void withDirectIoAFileOfAnyLengthArrivesWholeWithItsSha256() throws Exception {
    Assumptions.assumeTrue(DirectAppender.supported(tmp), "the file system of the temporary directory takes no direct I/O");
    byte[] content = random(40 * CHUNK + 123);
    Path part = tmp.resolve("d.part");
    IncomingFile f = IncomingFile.open("d", part, content.length, CHUNK, true);
    sendFrom(f, content, 0);
    assertThat(f.finish()).isEqualTo(sha256(content));
    assertThat(Files.readAllBytes(part)).isEqualTo(content);
  }

  @Test
  void withDirectIoAnAbandonedAttemptKeepsItsBytesAndTheNextResumesAfterTheLastWholeBlock() throws Exception {
    Assumptions.assumeTrue(DirectAppender.supported(tmp), "the file system of the temporary directory takes no direct I/O");
    byte[] content = random(20 * CHUNK + 7);
    Path part = tmp.resolve("e.part");
    IncomingFile f = IncomingFile.open("e", part, content.length, CHUNK, true);
    sendFrom(f, content, 0, 2 * CHUNK);
    byte[] piece = f.buffer(5000);
    System.arraycopy(content, 2 * CHUNK, piece, 0, 5000);
    f.accept(2L * CHUNK, piece, 5000);
    f.abandon();
    assertThat(Files.readAllBytes(part)).as("the staged bytes short of a block are written too")
        .isEqualTo(Arrays.copyOf(content, 2 * CHUNK + 5000));

    IncomingFile again = IncomingFile.open("e", part, content.length, CHUNK, true);
    assertThat(again.accepted()).as("resumes after the last whole block").isEqualTo(2L * CHUNK + DirectAppender.ALIGN);
    assertThat(Files.size(part)).isEqualTo(2L * CHUNK + DirectAppender.ALIGN);
    sendFrom(again, content, again.accepted());
    assertThat(again.finish()).isEqualTo(sha256(content));
    assertThat(Files.readAllBytes(part)).isEqualTo(content);
  }

  @Test
  void withoutDirectIoAResumeKeepsEveryStoredByte() throws Exception {
    byte[] content = random(3 * CHUNK);
    Path part = tmp.resolve("f.part");
    Files.write(part, Arrays.copyOf(content, CHUNK + 5000));
    IncomingFile f = IncomingFile.open("f", part, content.length, CHUNK, false);
    assertThat(f.accepted()).isEqualTo(CHUNK + 5000);
    sendFrom(f, content, f.accepted());
    assertThat(f.finish()).isEqualTo(sha256(content));
    assertThat(Files.readAllBytes(part)).isEqualTo(content);
  }

  private static void sendFrom(IncomingFile f, byte[] content, long from) throws Exception {
    sendFrom(f, content, from, content.length);
  }

  private static void sendFrom(IncomingFile f, byte[] content, long from, long to) throws Exception {
    for (long off = from; off < to; ) {
      int n = (int) Math.min(CHUNK, to - off);
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
