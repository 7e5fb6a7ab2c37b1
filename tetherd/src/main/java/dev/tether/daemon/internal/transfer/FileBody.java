package dev.tether.daemon.internal.transfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.LongConsumer;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.AbstractHttpEntity;

/**
 * Written on the attempt's worker by HttpClient, {@link #sent} read there after a failure: a request body, {@code length}
 * bytes of a file from {@code offset}, reporting the file position reached.
 */
final class FileBody extends AbstractHttpEntity {
  private final Path file;
  private final long offset;
  private final long length;
  private final LongConsumer progress;
  volatile long sent;

  FileBody(Path file, long offset, long length, LongConsumer progress) {
    this(file, offset, length, ContentType.APPLICATION_OCTET_STREAM, progress);
  }

  FileBody(Path file, long offset, long length, ContentType type, LongConsumer progress) {
    super(type, null);
    this.file = file;
    this.offset = offset;
    this.length = length;
    this.progress = progress;
  }

  @Override
  public long getContentLength() {
    return length;
  }

  @Override
  public InputStream getContent() throws IOException {
    InputStream in = Files.newInputStream(file);
    in.skipNBytes(offset);
    return in;
  }

  @Override
  public boolean isRepeatable() {
    return true;
  }

  @Override
  public boolean isStreaming() {
    return false;
  }

  @Override
  public void writeTo(OutputStream out) throws IOException {
    byte[] buf = HttpAttempt.buffer();
    long done = 0;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ch.position(offset);
      ByteBuffer bb = ByteBuffer.wrap(buf);
      while (done < length) {
        bb.clear().limit((int) Math.min(buf.length, length - done));
        int n = ch.read(bb);
        if (n < 0) {
          throw new IOException("the upload file " + file + " became shorter while it was being sent");
        }
        out.write(buf, 0, n);
        done += n;
        sent = done;
        progress.accept(offset + done);
      }
    }
  }

  @Override
  public void close() {}
}
