package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

/**
 * Immutable, so any thread may use it: the opaque resume data a cancelled download hands out (where its bytes are
 * kept and how to validate them), encoded as Base64 JSON, and its decoding when a download is started from it.
 */
final class ResumeData {
  final String url;
  final String etag;
  final String lastModified;
  final long bytes;
  final long total;
  final Path file;

  ResumeData(String url, String etag, String lastModified, long bytes, long total, Path file) {
    this.url = url;
    this.etag = etag;
    this.lastModified = lastModified;
    this.bytes = bytes;
    this.total = total;
    this.file = file;
  }

  String encode() {
    ObjectNode o = Json.object();
    o.put("v", 1);
    o.put("url", url);
    o.put("etag", etag);
    o.put("lastModified", lastModified);
    o.put("bytes", bytes);
    o.put("total", total);
    o.put("file", file.getFileName().toString());
    return Base64.getEncoder().encodeToString(Json.write(o).getBytes(StandardCharsets.UTF_8));
  }

  static ResumeData decode(String data, Path dir) {
    ObjectNode o;
    try {
      o = Json.parseObject(new String(Base64.getDecoder().decode(data), StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data is not resume data Tether produced");
    }
    String name = o.path("file").asText("");
    if (o.path("v").asInt() != 1 || !name.matches("resume-[0-9a-f-]+\\.part") || !o.hasNonNull("url")) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data is not resume data Tether produced");
    }
    Path f = dir.resolve(name);
    if (!Files.exists(f)) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data was used before or has expired; start a new download");
    }
    return new ResumeData(o.get("url").asText(), o.hasNonNull("etag") ? o.get("etag").asText() : null,
        o.hasNonNull("lastModified") ? o.get("lastModified").asText() : null, o.path("bytes").asLong(), o.path("total").asLong(-1), f);
  }
}
