package dev.tether.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Property tests with a seeded {@link Random} (reproducible: the seed is in the failure message). Whatever bytes
 * arrive, the codec either yields frames or refuses with {@link ErrorCode#CORRUPT_FRAME} / end of stream; it never
 * throws anything else, and frames it encodes read back equal.
 */
class FrameCodecPropertyTest {
  private static final long SEED = 20261122L;
  private final FrameCodec codec = new FrameCodec(64 * 1024);

  @Test
  void encodedFramesReadBackEqualInOrder() throws IOException {
    Random random = new Random(SEED);
    for (int round = 0; round < 200; round++) {
      List<Frame> sent = new ArrayList<>();
      ByteArrayOutputStream wire = new ByteArrayOutputStream();
      int n = 1 + random.nextInt(20);
      for (int i = 0; i < n; i++) {
        Frame f = randomFrame(random);
        sent.add(f);
        codec.write(wire, f);
      }
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(wire.toByteArray()));
      for (Frame f : sent) {
        Frame got = codec.read(in);
        assertThat(got).as("seed %d round %d", SEED, round).isEqualTo(f);
      }
      assertThat(codec.read(in)).as("clean end of stream").isNull();
    }
  }

  @Test
  void arbitraryBytesNeverEscapeAsAnythingButCorruptFrame() {
    Random random = new Random(SEED + 1);
    int corrupt = 0;
    for (int round = 0; round < 5000; round++) {
      byte[] bytes;
      if (random.nextBoolean()) {
        bytes = new byte[random.nextInt(64)];
        random.nextBytes(bytes);
      } else {
        // a valid frame with a few bytes flipped or cut: the interesting inputs
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        try {
          codec.write(wire, randomFrame(random));
        } catch (IOException e) {
          throw new AssertionError(e);
        }
        bytes = wire.toByteArray();
        int flips = 1 + random.nextInt(3);
        for (int i = 0; i < flips; i++) {
          bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
        }
        if (random.nextInt(4) == 0) {
          bytes = java.util.Arrays.copyOf(bytes, random.nextInt(bytes.length));
        }
      }
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
      try {
        while (codec.read(in) != null) {
          // keep reading: a flipped byte may still leave a valid frame
        }
      } catch (TetherException e) {
        assertThat(e.code()).as("seed %d round %d", SEED + 1, round).isEqualTo(ErrorCode.CORRUPT_FRAME);
        assertThat(e.getMessage()).isNotBlank();
        corrupt++;
      } catch (EOFException e) {
        // truncated in the middle of a frame: the connection's owner closes it
      } catch (IOException | RuntimeException e) {
        throw new AssertionError("seed " + (SEED + 1) + " round " + round + ": unexpected " + e, e);
      }
    }
    assertThat(corrupt).as("the inputs did exercise refusals").isGreaterThan(1000);
  }

  @Test
  void oversizedLengthIsRefusedBeforeAnyAllocation() {
    byte[] header = {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff};
    assertThatThrownBy(() -> codec.read(new DataInputStream(new ByteArrayInputStream(header))))
        .isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_FRAME);
          assertThat(e.getMessage()).contains("frame length");
        });
  }

  private static Frame randomFrame(Random random) {
    ObjectNode body = Json.object();
    int fields = random.nextInt(6);
    for (int i = 0; i < fields; i++) {
      String key = "k" + random.nextInt(1000);
      switch (random.nextInt(5)) {
        case 0 -> body.put(key, random.nextLong());
        case 1 -> body.put(key, randomText(random));
        case 2 -> body.put(key, random.nextBoolean());
        case 3 -> body.put(key, random.nextDouble());
        default -> body.putArray(key).add(randomText(random)).add(random.nextInt());
      }
    }
    return new Frame("t" + random.nextInt(50), random.nextInt(1_000_000), body);
  }

  private static String randomText(Random random) {
    StringBuilder sb = new StringBuilder();
    int len = random.nextInt(30);
    for (int i = 0; i < len; i++) {
      sb.append((char) (random.nextBoolean() ? 'a' + random.nextInt(26) : 0x20 + random.nextInt(0x3000)));
    }
    return sb.toString();
  }
}
