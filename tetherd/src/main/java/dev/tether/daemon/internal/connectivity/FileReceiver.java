package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.link.PeerLink;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityFrame;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the link's reader thread (its methods are synchronized; the link hands it each {@code file.*} frame):
 * receives files from one peer into {@code in/ID.part}, resuming from what is on disk, checked by SHA-256. The link's
 * thread checks each chunk and hands it to the attempt's {@link IncomingFile}, which writes and hashes on lanes of
 * its own.
 */
final class FileReceiver {
  private static final Logger log = LoggerFactory.getLogger(FileReceiver.class);
  /** Room left free on the receiver's disk beyond an incoming file, for the store and logs. */
  private static final long SPACE_RESERVE = 4L * 1024 * 1024;
  /** Chunks are read into buffers of this size. */
  private static final int CHUNK = 1024 * 1024;

  private final Path inDir;
  private final Inbox inbox;

  private String id;
  private long seq;
  private String app;
  private long size;
  private String sha;
  private ObjectNode meta;
  private IncomingFile file;
  private PeerLink link;

  /** Receives into {@code inDir}; a file is committed to {@code inbox} once it is in place. */
  FileReceiver(Path inDir, Inbox inbox) {
    this.inDir = inDir;
    this.inbox = inbox;
  }

  synchronized void offer(PeerLink from, ObjectNode b) throws IOException {
    closeChannel();
    this.link = from;
    String offered = b.path("id").asText();
    boolean seen = inbox.seen(offered);
    if (seen) {
      ackToPeerNow(b.path("seq").asLong());
      id = null;
      return;
    }
    id = offered;
    seq = b.path("seq").asLong();
    app = b.path("app").asText();
    size = b.path("size").asLong();
    sha = null;
    meta = (ObjectNode) b.get("meta");
    if (offered.isEmpty() || offered.contains("/") || offered.startsWith(".") || size < 0 || meta == null) {
      id = null;
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "file offer " + b + " lacks a valid id, size or meta");
    }
    Path part = inDir.resolve(id + ".part");
    long stored = Files.exists(part) ? Math.min(Files.size(part), size) : 0;
    long usable = Files.getFileStore(inDir).getUsableSpace();
    if (usable < size - stored + SPACE_RESERVE) {
      refuse(String.format("the paired device has %d bytes free in %s but file %s needs %d more; free space there"
          + " (the transfer stays queued and is retried)", usable, inDir, id, size - stored + SPACE_RESERVE));
      return;
    }
    try {
      file = IncomingFile.open(id, part, size, CHUNK);
    } catch (IOException e) {
      if (Disk.diskFull(e)) {
        refuse("the paired device's disk holding " + inDir + " is full: " + e.getMessage()
            + "; free space there (the transfer stays queued and is retried)");
        return;
      }
      throw e;
    }
    if (file.accepted() > 0) {
      log.info("resuming file {} from {} peer at byte {} of {}", id, "the", file.accepted(), size);
    }
    ObjectNode r = Json.object();
    r.put("id", id);
    r.put("offset", file.accepted());
    if (link != null) {
      link.send(ConnectivityFrame.FILE_RESUME, r);
    }
  }

  /** A buffer for the chunk the link is about to read; not under the lock, since it may wait for a free one. */
  byte[] buffer(ObjectNode b, int length) throws InterruptedException {
    IncomingFile f;
    synchronized (this) {
      f = file;
    }
    return f != null && f.id().equals(b.path("id").asText()) ? f.buffer(length) : new byte[length];
  }

  /** The sender's SHA-256 of the whole file, after its last chunk. */
  synchronized void end(ObjectNode b) throws Exception {
    if (id == null || file == null || !id.equals(b.path("id").asText())) {
      return;
    }
    if (file.accepted() != size) {
      throw new IOException("file " + id + " ended at " + file.accepted() + " of " + size + " bytes; restarting the link");
    }
    sha = b.path("sha256").asText();
    finish();
  }

  synchronized void chunk(ObjectNode b, byte[] data) throws Exception {
    if (id == null || file == null || !id.equals(b.path("id").asText())) {
      return;
    }
    JsonNode offset = b.get("offset");
    if (data == null || offset == null || !offset.canConvertToLong()) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "file chunk for " + id + " without an offset or without data");
    }
    Exception failed = file.writeFailure();
    if (failed != null) {
      writeFailed(failed);
      return;
    }
    file.accept(offset.asLong(), data, b.path("attach").asInt());
  }

  /** The writer lane failed: a full disk holds the file back (resuming later from the stored bytes), else the link restarts. */
  private void writeFailed(Exception e) throws Exception {
    if (Disk.diskFull(e)) {
      long stored = file.stored();
      refuse("the paired device's disk holding " + inDir + " filled up at byte " + stored + " of " + size
          + " of file " + id + "; free space there (the transfer stays queued and resumes from there)");
      return;
    }
    throw e;
  }

  /** Refuses the current offer for now: the sender keeps the file queued, tells its app, and offers it again. */
  private void refuse(String message) {
    log.warn("refusing file {} from peer for now: {}", id, message);
    closeChannel();
    ObjectNode r = Json.object();
    r.put("id", id);
    r.put("code", ErrorCode.INSUFFICIENT_SPACE.name());
    r.put("error", message);
    id = null;
    if (link != null) {
      link.send(ConnectivityFrame.FILE_REFUSED, r);
    }
  }

  private void finish() throws Exception {
    String got;
    try {
      got = file.finish();
    } catch (Exception e) {
      writeFailed(e);
      return;
    } finally {
      file = null;
    }
    Path part = inDir.resolve(id + ".part");
    if (!got.equals(sha)) {
      log.error("file {} arrived with SHA-256 {} but {} was sent; receiving it again", id, got, sha);
      Files.deleteIfExists(part);
      if (link != null) {
        link.close();
      }
      id = null;
      return;
    }
    Path dir = inDir.resolve(id);
    Files.createDirectories(dir);
    String name = meta.path("name").asText("file");
    if (name.contains("/") || name.equals("..") || name.isBlank()) {
      name = "file";
    }
    Path dest = dir.resolve(name);
    Files.move(part, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Disk.syncDir(dir);
    Disk.syncDir(inDir);
    ObjectNode payload = Json.object();
    if (meta.has("metadata")) {
      payload.set("metadata", meta.get("metadata"));
    }
    payload.put("size", size);
    payload.put("sha256", sha);
    long s = seq;
    String fid = id;
    id = null;
    String fapp = app;
    PeerLink from = link;
    inbox.add(new Inbox.Incoming(s, fid, from.peer(), fapp, "file", payload.toString(), dest.toString()))
        .whenComplete((fresh, failure) -> {
          if (failure != null) {
            log.error("storing received file {} failed", fid, failure);
            from.close();
            return;
          }
          inbox.ackToPeer(from, s);
          if (fresh) {
            inbox.arrivedAfterCommit(fapp);
          }
        });
  }

  private void ackToPeerNow(long s) {
    if (link != null) {
      inbox.ackToPeer(link, s);
    }
  }

  /** The sender's app cancelled file {@code dropped}: what arrived of it here is of no use any more. */
  synchronized void drop(String dropped) {
    if (dropped == null || dropped.isEmpty() || dropped.contains("/") || dropped.startsWith(".")) {
      throw new TetherException(ErrorCode.CORRUPT_FRAME, "file drop without a valid id");
    }
    if (dropped.equals(id)) {
      closeChannel();
      id = null;
    }
    Path part = inDir.resolve(dropped + ".part");
    if (Files.exists(part)) {
      log.info("file {} was cancelled by its sender: dropping the {} bytes received", dropped, Disk.sizeOf(part));
      Disk.deleteQuietly(part);
    }
  }

  private void closeChannel() {
    if (file != null) {
      file.abandon();
      file = null;
    }
  }
}
