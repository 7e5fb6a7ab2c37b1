package dev.tether.daemon.internal.relay;

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
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * MQTT 3.1.1 wire format for the packets in {@link MqttPacket}: a fixed header (type and flags in one byte, then the
 * remaining length as a 1-4 byte varint), the variable header and the payload. Decoding is strict: reserved flags,
 * lengths that do not add up, bad UTF-8, packet id 0 and unknown packet types are a {@link MalformedPacketException}.
 */
public final class MqttCodec {
  /** The largest remaining length MQTT can express (four varint bytes). */
  public static final int MAX_REMAINING_LENGTH = 268_435_455;

  static final int CONNECT = 1;
  static final int CONNACK = 2;
  static final int PUBLISH = 3;
  static final int PUBACK = 4;
  static final int SUBSCRIBE = 8;
  static final int SUBACK = 9;
  static final int PINGREQ = 12;
  static final int PINGRESP = 13;
  static final int DISCONNECT = 14;

  private MqttCodec() {}

  // ------------------------------------------------------------------------------------------------ encoding

  /** The packet's bytes. */
  public static byte[] encode(MqttPacket packet) {
    Body b = new Body();
    int first;
    if (packet instanceof Connect c) {
      first = CONNECT << 4;
      if (c.password() != null && c.username() == null) {
        throw new IllegalArgumentException("MQTT 3.1.1 allows a password only together with a user name");
      }
      b.string("MQTT");
      b.write(4);
      b.write((c.username() != null ? 0x80 : 0) | (c.password() != null ? 0x40 : 0) | (c.cleanSession() ? 0x02 : 0));
      b.u16(checkU16(c.keepAliveSeconds(), "keep-alive"));
      b.string(c.clientId());
      if (c.username() != null) {
        b.string(c.username());
      }
      if (c.password() != null) {
        b.binary(c.password());
      }
    } else if (packet instanceof ConnAck a) {
      first = CONNACK << 4;
      b.write(a.sessionPresent() ? 1 : 0);
      b.write(a.returnCode());
    } else if (packet instanceof Publish p) {
      if (p.qos() < 0 || p.qos() > 2) {
        throw new IllegalArgumentException("QoS " + p.qos());
      }
      first = PUBLISH << 4 | (p.dup() ? 0x08 : 0) | p.qos() << 1 | (p.retain() ? 1 : 0);
      b.string(p.topic());
      if (p.qos() > 0) {
        b.u16(checkId(p.packetId()));
      }
      b.write(p.payload(), 0, p.payload().length);
    } else if (packet instanceof PubAck a) {
      first = PUBACK << 4;
      b.u16(checkId(a.packetId()));
    } else if (packet instanceof Subscribe s) {
      first = SUBSCRIBE << 4 | 0x02;
      b.u16(checkId(s.packetId()));
      if (s.subscriptions().isEmpty()) {
        throw new IllegalArgumentException("SUBSCRIBE needs at least one topic filter");
      }
      for (Subscription f : s.subscriptions()) {
        b.string(f.filter());
        b.write(f.qos());
      }
    } else if (packet instanceof SubAck s) {
      first = SUBACK << 4;
      b.u16(checkId(s.packetId()));
      for (int code : s.returnCodes()) {
        b.write(code);
      }
    } else if (packet instanceof PingReq) {
      first = PINGREQ << 4;
    } else if (packet instanceof PingResp) {
      first = PINGRESP << 4;
    } else if (packet instanceof Disconnect) {
      first = DISCONNECT << 4;
    } else {
      throw new IllegalArgumentException("unknown packet " + packet);
    }
    int remaining = b.size();
    if (remaining > MAX_REMAINING_LENGTH) {
      throw new IllegalArgumentException("packet of " + remaining + " bytes exceeds MQTT's limit");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(remaining + 5);
    out.write(first);
    writeVarint(out, remaining);
    out.writeBytes(b.toByteArray());
    return out.toByteArray();
  }

  static void writeVarint(ByteArrayOutputStream out, int value) {
    do {
      int digit = value % 128;
      value /= 128;
      out.write(value > 0 ? digit | 0x80 : digit);
    } while (value > 0);
  }

  private static int checkId(int id) {
    if (id < 1 || id > 0xffff) {
      throw new IllegalArgumentException("packet id " + id + " is not in 1..65535");
    }
    return id;
  }

  private static int checkU16(int v, String what) {
    if (v < 0 || v > 0xffff) {
      throw new IllegalArgumentException(what + " " + v + " is not in 0..65535");
    }
    return v;
  }

  private static final class Body extends ByteArrayOutputStream {
    void u16(int v) {
      write(v >> 8);
      write(v & 0xff);
    }

    void string(String s) {
      binary(s.getBytes(StandardCharsets.UTF_8));
    }

    void binary(byte[] bytes) {
      if (bytes.length > 0xffff) {
        throw new IllegalArgumentException("string of " + bytes.length + " bytes is too long for MQTT");
      }
      u16(bytes.length);
      write(bytes, 0, bytes.length);
    }
  }

  // ------------------------------------------------------------------------------------------------ decoding

  /**
   * Reads one packet; null when the stream ends cleanly before a packet starts. A packet whose remaining length exceeds
   * {@code maxRemaining} is refused before its body is read.
   */
  public static MqttPacket read(InputStream in, int maxRemaining) throws IOException {
    int first = in.read();
    if (first < 0) {
      return null;
    }
    int remaining = 0;
    int multiplier = 1;
    for (int i = 0; ; i++) {
      if (i == 4) {
        throw new MalformedPacketException("remaining length longer than four bytes");
      }
      int digit = in.read();
      if (digit < 0) {
        throw new EOFException("stream ended inside a fixed header");
      }
      remaining += (digit & 0x7f) * multiplier;
      multiplier *= 128;
      if ((digit & 0x80) == 0) {
        if (i > 0 && digit == 0) {
          throw new MalformedPacketException("remaining length not in its shortest form");
        }
        break;
      }
    }
    if (remaining > maxRemaining) {
      throw new MalformedPacketException("packet of " + remaining + " bytes exceeds the limit of " + maxRemaining);
    }
    byte[] body = in.readNBytes(remaining);
    if (body.length < remaining) {
      throw new EOFException("stream ended inside a packet (" + body.length + " of " + remaining + " bytes)");
    }
    return decode(first, body);
  }

  /** Decodes a whole packet (fixed header included); trailing bytes are malformed. */
  public static MqttPacket decode(byte[] packet) throws IOException {
    java.io.ByteArrayInputStream in = new java.io.ByteArrayInputStream(packet);
    MqttPacket p = read(in, MAX_REMAINING_LENGTH);
    if (p == null) {
      throw new MalformedPacketException("empty packet");
    }
    if (in.available() > 0) {
      throw new MalformedPacketException(in.available() + " bytes after the packet");
    }
    return p;
  }

  private static MqttPacket decode(int first, byte[] body) throws MalformedPacketException {
    int type = first >> 4;
    int flags = first & 0x0f;
    Reader r = new Reader(body, type);
    MqttPacket p;
    switch (type) {
      case CONNECT -> {
        flags(type, flags, 0);
        String protocol = r.string();
        int level = r.u8();
        if (!protocol.equals("MQTT") || level != 4) {
          throw new MalformedPacketException("CONNECT for protocol " + protocol + " level " + level + ", not MQTT 3.1.1");
        }
        int connectFlags = r.u8();
        if ((connectFlags & 0x3d) != 0) {
          throw new MalformedPacketException("CONNECT flags 0x" + Integer.toHexString(connectFlags)
              + " (reserved bit or a will: only clean session, user name and password are supported)");
        }
        boolean hasUser = (connectFlags & 0x80) != 0;
        boolean hasPassword = (connectFlags & 0x40) != 0;
        if (hasPassword && !hasUser) {
          throw new MalformedPacketException("CONNECT with a password but no user name");
        }
        int keepAlive = r.u16();
        String clientId = r.string();
        String username = hasUser ? r.string() : null;
        byte[] password = hasPassword ? r.binary() : null;
        p = new Connect(clientId, (connectFlags & 0x02) != 0, keepAlive, username, password);
      }
      case CONNACK -> {
        flags(type, flags, 0);
        int ack = r.u8();
        if ((ack & 0xfe) != 0) {
          throw new MalformedPacketException("CONNACK acknowledge flags 0x" + Integer.toHexString(ack));
        }
        int code = r.u8();
        if (code > 5) {
          throw new MalformedPacketException("CONNACK return code " + code);
        }
        p = new ConnAck(ack == 1, code);
      }
      case PUBLISH -> {
        int qos = (flags >> 1) & 3;
        if (qos == 3) {
          throw new MalformedPacketException("PUBLISH with QoS 3");
        }
        boolean dup = (flags & 0x08) != 0;
        if (qos == 0 && dup) {
          throw new MalformedPacketException("PUBLISH with QoS 0 and DUP set");
        }
        String topic = r.string();
        if (topic.isEmpty() || topic.indexOf('#') >= 0 || topic.indexOf('+') >= 0) {
          throw new MalformedPacketException("PUBLISH to topic '" + topic + "' (empty or with a wildcard)");
        }
        int id = qos > 0 ? r.id() : 0;
        p = new Publish(topic, qos, id, dup, (flags & 1) != 0, r.rest());
      }
      case PUBACK -> {
        flags(type, flags, 0);
        p = new PubAck(r.id());
      }
      case SUBSCRIBE -> {
        flags(type, flags, 2);
        int id = r.id();
        List<Subscription> subs = new ArrayList<>();
        while (r.hasMore()) {
          String filter = r.string();
          int qos = r.u8();
          if (qos > 2 || filter.isEmpty()) {
            throw new MalformedPacketException("SUBSCRIBE to '" + filter + "' with QoS " + qos);
          }
          subs.add(new Subscription(filter, qos));
        }
        if (subs.isEmpty()) {
          throw new MalformedPacketException("SUBSCRIBE without a topic filter");
        }
        p = new Subscribe(id, subs);
      }
      case SUBACK -> {
        flags(type, flags, 0);
        int id = r.id();
        List<Integer> codes = new ArrayList<>();
        while (r.hasMore()) {
          int code = r.u8();
          if (code > 2 && code != 0x80) {
            throw new MalformedPacketException("SUBACK return code 0x" + Integer.toHexString(code));
          }
          codes.add(code);
        }
        if (codes.isEmpty()) {
          throw new MalformedPacketException("SUBACK without a return code");
        }
        p = new SubAck(id, codes);
      }
      case PINGREQ -> {
        flags(type, flags, 0);
        p = new PingReq();
      }
      case PINGRESP -> {
        flags(type, flags, 0);
        p = new PingResp();
      }
      case DISCONNECT -> {
        flags(type, flags, 0);
        p = new Disconnect();
      }
      default -> throw new MalformedPacketException("unsupported MQTT packet type " + type);
    }
    if (r.hasMore()) {
      throw new MalformedPacketException("packet type " + type + " has " + r.left() + " bytes too many");
    }
    return p;
  }

  private static void flags(int type, int flags, int expected) throws MalformedPacketException {
    if (flags != expected) {
      throw new MalformedPacketException("packet type " + type + " with reserved flags 0x" + Integer.toHexString(flags));
    }
  }

  private static final class Reader {
    private final byte[] b;
    private final int type;
    private int pos;

    Reader(byte[] b, int type) {
      this.b = b;
      this.type = type;
    }

    boolean hasMore() {
      return pos < b.length;
    }

    int left() {
      return b.length - pos;
    }

    int u8() throws MalformedPacketException {
      need(1);
      return b[pos++] & 0xff;
    }

    int u16() throws MalformedPacketException {
      need(2);
      int v = (b[pos] & 0xff) << 8 | (b[pos + 1] & 0xff);
      pos += 2;
      return v;
    }

    int id() throws MalformedPacketException {
      int id = u16();
      if (id == 0) {
        throw new MalformedPacketException("packet id 0 in packet type " + type);
      }
      return id;
    }

    String string() throws MalformedPacketException {
      int n = u16();
      need(n);
      try {
        String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b, pos, n)).toString();
        if (s.indexOf('\0') >= 0) {
          throw new MalformedPacketException("string with U+0000 in packet type " + type);
        }
        pos += n;
        return s;
      } catch (CharacterCodingException e) {
        throw new MalformedPacketException("string that is not UTF-8 in packet type " + type);
      }
    }

    byte[] binary() throws MalformedPacketException {
      int n = u16();
      need(n);
      byte[] r = java.util.Arrays.copyOfRange(b, pos, pos + n);
      pos += n;
      return r;
    }

    byte[] rest() {
      byte[] r = java.util.Arrays.copyOfRange(b, pos, b.length);
      pos = b.length;
      return r;
    }

    private void need(int n) throws MalformedPacketException {
      if (b.length - pos < n) {
        throw new MalformedPacketException("packet type " + type + " truncated (" + n + " bytes wanted, " + (b.length - pos) + " left)");
      }
    }
  }
}
