package dev.tether.daemon.internal.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.daemon.internal.relay.MqttPacket.ConnAck;
import dev.tether.daemon.internal.relay.MqttPacket.Connect;
import dev.tether.daemon.internal.relay.MqttPacket.Disconnect;
import dev.tether.daemon.internal.relay.MqttPacket.PingReq;
import dev.tether.daemon.internal.relay.MqttPacket.PingResp;
import dev.tether.daemon.internal.relay.MqttPacket.PubAck;
import dev.tether.daemon.internal.relay.MqttPacket.Publish;
import dev.tether.daemon.internal.relay.MqttPacket.SubAck;
import dev.tether.daemon.internal.relay.MqttPacket.Subscribe;
import dev.tether.daemon.internal.relay.MqttPacket.Subscription;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MqttCodecTest {
  private static byte[] hex(String h) {
    return HexFormat.of().parseHex(h.replace(" ", ""));
  }

  @Test
  void encodesTheSpecsExampleBytes() {
    // CONNECT: "MQTT", level 4, clean session, keep-alive 60, client id "ab"
    assertThat(MqttCodec.encode(new Connect("ab", true, 60))).isEqualTo(hex("10 0e 0004 4d515454 04 02 003c 0002 6162"));
    assertThat(MqttCodec.encode(new PubAck(0x1234))).isEqualTo(hex("40 02 1234"));
    assertThat(MqttCodec.encode(new Subscribe(1, List.of(new Subscription("a/#", 1))))).isEqualTo(hex("82 08 0001 0003 612f23 01"));
    assertThat(MqttCodec.encode(new Publish("t", 1, 7, false, false, new byte[] {9}))).isEqualTo(hex("32 06 0001 74 0007 09"));
    assertThat(MqttCodec.encode(new PingReq())).isEqualTo(hex("c0 00"));
    assertThat(MqttCodec.encode(new Disconnect())).isEqualTo(hex("e0 00"));
  }

  @Test
  void connectCarriesAUserNameAndAPasswordInTheSpecsLayout() throws IOException {
    // flags 0xc2: user name, password, clean session; the payload is client id, user name, password (binary)
    Connect full = new Connect("ab", true, 60, "u", "pw".getBytes(StandardCharsets.UTF_8));
    byte[] bytes = hex("10 15 0004 4d515454 04 c2 003c 0002 6162 0001 75 0002 7077");
    assertThat(MqttCodec.encode(full)).isEqualTo(bytes);
    assertThat(MqttCodec.decode(bytes)).isEqualTo(full);
    // a user name alone (flags 0x82)
    Connect userOnly = new Connect("ab", true, 60, "u", null);
    assertThat(MqttCodec.encode(userOnly)).isEqualTo(hex("10 11 0004 4d515454 04 82 003c 0002 6162 0001 75"));
    assertThat(MqttCodec.decode(MqttCodec.encode(userOnly))).isEqualTo(userOnly);
    // the password is binary data, not UTF-8, and may be empty
    Connect binary = new Connect("c", false, 0, "", new byte[] {(byte) 0xff, 0, (byte) 0xfe});
    assertThat(MqttCodec.encode(binary)).isEqualTo(hex("10 14 0004 4d515454 04 c0 0000 0001 63 0000 0003 ff00fe"));
    assertThat(MqttCodec.decode(MqttCodec.encode(binary))).isEqualTo(binary);
    assertThat(MqttCodec.decode(MqttCodec.encode(new Connect("c", true, 1, "u", new byte[0]))))
        .isEqualTo(new Connect("c", true, 1, "u", new byte[0])).isNotEqualTo(new Connect("c", true, 1, "u", null));
    // the password never shows in what is logged
    assertThat(full.toString()).doesNotContain("pw").contains("user u").contains("password set");
    // MQTT 3.1.1 [MQTT-3.1.2-22]: no password without a user name
    assertThatThrownBy(() -> MqttCodec.encode(new Connect("ab", true, 60, null, new byte[] {1})))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void remainingLengthUsesTheShortestVarintAtEveryBoundary() throws IOException {
    int[][] cases = {{0, 1}, {127, 1}, {128, 2}, {16_383, 2}, {16_384, 3}, {2_097_151, 3}, {2_097_152, 4}};
    for (int[] c : cases) {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      MqttCodec.writeVarint(b, c[0]);
      assertThat(b.size()).as("varint of %d", c[0]).isEqualTo(c[1]);
    }
    ByteArrayOutputStream max = new ByteArrayOutputStream();
    MqttCodec.writeVarint(max, MqttCodec.MAX_REMAINING_LENGTH);
    assertThat(max.toByteArray()).isEqualTo(hex("ffffff7f"));
    // a publish whose remaining length needs each width round-trips
    for (int size : new int[] {0, 120, 200, 16_000, 17_000, 2_100_000}) {
      Publish p = new Publish("x/y", 1, 1, false, false, new byte[size]);
      assertThat(MqttCodec.decode(MqttCodec.encode(p))).isEqualTo(p);
    }
  }

  @Test
  void everyPacketRoundTripsUnderASeededRandomMix() throws IOException {
    Random r = new Random(20261122);
    for (int i = 0; i < 5_000; i++) {
      MqttPacket p = randomPacket(r);
      byte[] bytes = MqttCodec.encode(p);
      assertThat(MqttCodec.decode(bytes)).as("packet %s", p).isEqualTo(p);
    }
  }

  @Test
  void packetsReadBackToBackFromOneStreamAndACleanEndIsNull() throws IOException {
    Random r = new Random(7);
    List<MqttPacket> sent = new ArrayList<>();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < 200; i++) {
      MqttPacket p = randomPacket(r);
      sent.add(p);
      out.writeBytes(MqttCodec.encode(p));
    }
    ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
    for (MqttPacket p : sent) {
      assertThat(MqttCodec.read(in, MqttCodec.MAX_REMAINING_LENGTH)).isEqualTo(p);
    }
    assertThat(MqttCodec.read(in, MqttCodec.MAX_REMAINING_LENGTH)).isNull();
  }

  @Test
  void malformedPacketsAreTypedErrors() {
    String[] malformed = {
        "30 8080808001",          // remaining length of five bytes
        "30 8000",                // remaining length not in its shortest form
        "41 02 0001",             // PUBACK with reserved flags
        "80 06 0001 0001 61 01",  // SUBSCRIBE without its 0010 flags
        "40 02 0000",             // packet id 0
        "40 03 000100",           // PUBACK with a byte too many
        "36 05 0001 61 0001",     // PUBLISH with QoS 3
        "38 03 0001 61",          // QoS 0 with DUP
        "30 04 0002 612b",        // PUBLISH to a wildcard topic
        "30 02 0000",             // PUBLISH to the empty topic
        "30 04 0002 c328",        // topic that is not UTF-8
        "30 04 0002 6100",        // topic with U+0000
        "30 03 0005 61",          // string longer than the packet
        "20 02 0006",             // CONNACK return code 6
        "20 02 0200",             // CONNACK with reserved acknowledge flags
        "90 02 0001",             // SUBACK without return codes
        "90 03 0001 03",          // SUBACK with return code 3
        "82 02 0001",             // SUBSCRIBE without a filter
        "10 0c 0004 4d515454 03 02 003c 0000", // CONNECT level 3
        "10 0c 0004 4d515454 04 06 003c 0000", // CONNECT with a will
        "10 0c 0004 4d515454 04 03 003c 0000", // CONNECT with the reserved flag
        "10 0c 0004 4d515454 04 22 003c 0000", // CONNECT with will retain
        "10 11 0004 4d515454 04 42 003c 0002 6162 0001 75", // a password without a user name
        "10 0e 0004 4d515454 04 82 003c 0002 6162",      // user name flag, no user name
        "10 11 0004 4d515454 04 c2 003c 0002 6162 0001 75", // password flag, no password
        "10 14 0004 4d515454 04 c2 003c 0002 6162 0001 75 0002 70", // password cut short
        "10 11 0004 4d515454 04 82 003c 0002 6162 0001 ff", // user name that is not UTF-8
        "10 13 0004 4d515454 04 82 003c 0002 6162 0001 75 0000", // bytes after the user name
        "00 00",                  // type 0
        "f0 00",                  // type 15 (AUTH is MQTT 5)
        "50 02 0001",             // PUBREC: QoS 2 is not supported
        "c0 01 00",               // PINGREQ with a body
    };
    for (String m : malformed) {
      assertThatThrownBy(() -> MqttCodec.decode(hex(m))).as(m).isInstanceOf(MalformedPacketException.class);
    }
  }

  @Test
  void aPacketLargerThanTheLimitIsRefusedBeforeItsBodyIsRead() {
    byte[] header = hex("30 ffffff7f"); // announces 256 MiB, none of which follows
    assertThatThrownBy(() -> MqttCodec.read(new ByteArrayInputStream(header), 64 * 1024))
        .isInstanceOf(MalformedPacketException.class).hasMessageContaining("exceeds the limit");
  }

  @Test
  void aStreamEndingInsideAPacketIsAnEofNotAPacket() {
    byte[] full = MqttCodec.encode(new Publish("a/b", 1, 3, false, false, new byte[100]));
    for (int cut = 1; cut < full.length; cut++) {
      byte[] part = Arrays.copyOf(full, cut);
      assertThatThrownBy(() -> MqttCodec.read(new ByteArrayInputStream(part), 1 << 20)).as("cut at %d", cut)
          .isInstanceOf(EOFException.class);
    }
  }

  @Test
  void randomCorruptionNeverEscapesAsAnythingButAnIoError() {
    Random r = new Random(42);
    int decoded = 0;
    int refused = 0;
    for (int i = 0; i < 20_000; i++) {
      byte[] bytes = MqttCodec.encode(randomPacket(r));
      int flips = 1 + r.nextInt(3);
      for (int f = 0; f < flips; f++) {
        bytes[r.nextInt(bytes.length)] ^= (byte) (1 << r.nextInt(8));
      }
      try {
        MqttCodec.decode(bytes);
        decoded++;
      } catch (IOException e) {
        refused++;
      }
    }
    assertThat(refused).as("corruptions refused").isGreaterThan(1_000);
    assertThat(decoded + refused).isEqualTo(20_000);
  }

  private static MqttPacket randomPacket(Random r) {
    int id = 1 + r.nextInt(0xffff);
    switch (r.nextInt(9)) {
      case 0:
        {
          String user = r.nextBoolean() ? randomString(r, r.nextInt(30)) : null;
          byte[] password = user != null && r.nextBoolean() ? new byte[r.nextInt(40)] : null;
          if (password != null) {
            r.nextBytes(password);
          }
          return new Connect(randomString(r, 1 + r.nextInt(23)), r.nextBoolean(), r.nextInt(0x10000), user, password);
        }
      case 1:
        return new ConnAck(r.nextBoolean(), r.nextInt(6));
      case 2: {
        byte[] payload = new byte[r.nextInt(4) == 0 ? r.nextInt(40_000) : r.nextInt(200)];
        r.nextBytes(payload);
        int qos = r.nextInt(3);
        return new Publish("tether/v1/" + randomString(r, 1 + r.nextInt(70)), qos, qos == 0 ? 0 : id,
            qos > 0 && r.nextBoolean(), r.nextBoolean(), payload);
      }
      case 3:
        return new PubAck(id);
      case 4: {
        List<Subscription> subs = new ArrayList<>();
        for (int i = 0, n = 1 + r.nextInt(3); i < n; i++) {
          subs.add(new Subscription(randomString(r, 1 + r.nextInt(40)) + "/#", r.nextInt(3)));
        }
        return new Subscribe(id, subs);
      }
      case 5: {
        List<Integer> codes = new ArrayList<>();
        int[] valid = {0, 1, 2, 0x80};
        for (int i = 0, n = 1 + r.nextInt(3); i < n; i++) {
          codes.add(valid[r.nextInt(4)]);
        }
        return new SubAck(id, codes);
      }
      case 6:
        return new PingReq();
      case 7:
        return new PingResp();
      default:
        return new Disconnect();
    }
  }

  private static String randomString(Random r, int n) {
    String alphabet = "abcdef0123456789-_.éü漢";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return sb.toString();
  }
}
