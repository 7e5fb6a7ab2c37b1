package dev.tether.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Reads and writes {@link Frame}s: a 4-byte big-endian length, then that many bytes of one JSON object
 * {@code {"type":..., "id":..., "body":{...}}}.
 *
 * <p>A frame longer than {@link #maxFrameBytes()} or one that is not a valid message is refused with
 * {@link ErrorCode#CORRUPT_FRAME}; the connection is then closed by its owner, since its framing can no longer be
 * trusted.
 */
public final class FrameCodec {
  /** Large enough for any payload Tether accepts (256 KiB contexts, file chunks), small enough to bound memory. */
  public static final int DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

  private final int maxFrameBytes;
  private final boolean keepPayloadText;

  public FrameCodec() {
    this(DEFAULT_MAX_FRAME_BYTES);
  }

  public FrameCodec(int maxFrameBytes) {
    this(maxFrameBytes, false);
  }

  private FrameCodec(int maxFrameBytes, boolean keepPayloadText) {
    this.maxFrameBytes = maxFrameBytes;
    this.keepPayloadText = keepPayloadText;
  }

  /**
   * A codec whose decoded {@code "payload"} objects keep the text they were read from ({@link Json#sourceText}): for
   * tetherd, which stores and forwards payloads as text. Apps decode payloads and do not need it.
   */
  public static FrameCodec keepingPayloadText() {
    return new FrameCodec(DEFAULT_MAX_FRAME_BYTES, true);
  }

  public int maxFrameBytes() {
    return maxFrameBytes;
  }

  /** Reads one frame; returns {@code null} at a clean end of stream (the peer closed between frames). */
  public Frame read(DataInputStream in) throws IOException {
    int length;
    try {
      length = in.readInt();
    } catch (EOFException e) {
      return null;
    }
    if (length <= 0 || length > maxFrameBytes) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME,
          "frame length " + length + " is outside 1.." + maxFrameBytes + " bytes; the stream is not a Tether connection or is corrupt");
    }
    return decode(readBody(in, length));
  }

  /** The first buffer for a frame's bytes; it doubles only as bytes actually arrive, up to the announced length. */
  static final int FIRST_CHUNK = 8 * 1024;

  /**
   * Reads {@code length} bytes without trusting {@code length}: the buffer starts small and grows as the bytes
   * arrive, so a peer that announces 16 MiB and sends little holds little memory.
   */
  static byte[] readBody(DataInputStream in, int length) throws IOException {
    byte[] buf = new byte[Math.min(length, FIRST_CHUNK)];
    int got = 0;
    while (true) {
      int n = in.read(buf, got, buf.length - got);
      if (n < 0) {
        throw new EOFException("the connection ended " + got + " bytes into a frame of " + length + " bytes");
      }
      got += n;
      if (got == length) {
        return buf;
      }
      if (got == buf.length) {
        buf = java.util.Arrays.copyOf(buf, (int) Math.min(length, 2L * buf.length));
      }
    }
  }

  public Frame decode(byte[] bytes) {
    JsonNode node;
    try {
      node = FrameJson.read(bytes, keepPayloadText);
    } catch (IOException e) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "frame is not valid JSON: " + e.getMessage(), e);
    }
    if (!(node instanceof ObjectNode o) || !o.path("type").isTextual()) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "frame is not an object with a text \"type\"");
    }
    JsonNode body = o.get("body");
    if (body != null && !body.isNull() && !(body instanceof ObjectNode)) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "frame body must be a JSON object");
    }
    return new Frame(o.get("type").asText(), o.path("id").asLong(0), body instanceof ObjectNode b ? b : null);
  }

  public byte[] encode(Frame frame) {
    byte[] out;
    try {
      out = FrameJson.writeWithLengthPrefix(frame);
    } catch (IOException e) {
      throw new TetherException(ErrorCode.GENERIC, "cannot encode frame " + frame.type(), e);
    }
    int length = out.length - 4;
    if (length > maxFrameBytes) {
      throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE,
          "message of " + length + " bytes exceeds the " + maxFrameBytes + "-byte frame limit");
    }
    out[0] = (byte) (length >>> 24);
    out[1] = (byte) (length >>> 16);
    out[2] = (byte) (length >>> 8);
    out[3] = (byte) length;
    return out;
  }

  /** Writes one frame; callers serialise writers on the same stream. */
  public void write(OutputStream out, Frame frame) throws IOException {
    out.write(encode(frame));
    out.flush();
  }

  public static DataInputStream input(InputStream in) {
    return new DataInputStream(new java.io.BufferedInputStream(in, 64 * 1024));
  }
}
