package dev.tether.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** A frame's announced length is not trusted: memory follows the bytes that arrive. */
class FrameCodecMemoryTest {
  private static long allocatedByThisThread() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
        .getThreadAllocatedBytes(Thread.currentThread().getId());
  }

  @Test
  void aFrameThatAnnouncesSixteenMiBAndSendsOneKiBHoldsKilobytesNotMegabytes() throws IOException {
    byte[] stream = ByteBuffer.allocate(4 + 1024).putInt(16 * 1024 * 1024).array();
    FrameCodec codec = new FrameCodec();
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(stream));
    long before = allocatedByThisThread();
    assertThatThrownBy(() -> codec.read(in)).isInstanceOf(EOFException.class).hasMessageContaining("1024 bytes into a frame");
    long allocated = allocatedByThisThread() - before;
    assertThat(allocated).as("bytes allocated for a frame that sent 1 KiB").isLessThan(256 * 1024);
  }

  @Test
  void aLargeFrameArrivingInSmallPiecesReadsBackWhole() throws IOException {
    FrameCodec codec = new FrameCodec();
    ObjectNode body = Json.object();
    body.put("text", "x".repeat(3 * 1024 * 1024 + 17));
    byte[] encoded = codec.encode(new Frame("big", 7, body));
    InputStream trickle = new FilterInputStream(new ByteArrayInputStream(encoded)) {
      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        return super.read(b, off, Math.min(len, 1000));
      }
    };
    Frame f = codec.read(new DataInputStream(trickle));
    assertThat(f.type()).isEqualTo("big");
    assertThat(f.id()).isEqualTo(7);
    assertThat(f.body().get("text").asText()).hasSize(3 * 1024 * 1024 + 17);
  }
}
