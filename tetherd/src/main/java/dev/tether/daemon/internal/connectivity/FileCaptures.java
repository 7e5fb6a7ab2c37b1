package dev.tether.daemon.internal.connectivity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.protocol.Json;
import dev.tether.protocol.PropertyList;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the IPC reader thread of each {@code cx.file} request, which the copy blocks as long as the app's call
 * waits. The file capture lane ({@code cx.file}): captures the app's file into {@code data/connectivity/out/ID}
 * ({@link Snapshot}) before the call returns, the outbox row committed while the kernel copies, and undoes captures a
 * stopped daemon left half-made.
 */
final class FileCaptures {
  private static final Logger log = LoggerFactory.getLogger(FileCaptures.class);

  private final Path outDir;
  private final OutboxStore outbox;
  private final GroupWriter<OutboxStore.Outgoing, Long> outboxWriter;
  private final OutgoingStates fileStates;
  private final Supplier<String> counterpart;
  private final Consumer<String> wakeFiles;

  /** {@code counterpart} gives the paired peer (or throws); {@code wakeFiles} wakes the file sender of a peer. */
  FileCaptures(Path outDir, OutboxStore outbox, GroupWriter<OutboxStore.Outgoing, Long> outboxWriter,
               OutgoingStates fileStates, Supplier<String> counterpart, Consumer<String> wakeFiles) {
    this.outDir = outDir;
    this.outbox = outbox;
    this.outboxWriter = outboxWriter;
    this.fileStates = fileStates;
    this.counterpart = counterpart;
    this.wakeFiles = wakeFiles;
  }

  /** {@code cx.file}: the file's path and optional metadata (checked in order with the file, after pairing). */
  record FileRequest(String path, JsonNode metadata) {
    static FileRequest parse(ObjectNode b) {
      return new FileRequest(b.path("path").asText(), b.hasNonNull("metadata") ? b.get("metadata") : null);
    }
  }

  /** {@code cx.file}: captures the file and queues it; answers after the copy's fsync. On the IPC reader. */
  CompletableFuture<ObjectNode> transferFile(ClientConnection c, FileRequest req) throws IOException {
    String peer = counterpart.get();
    Path source = Path.of(req.path());
    if (!source.isAbsolute()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "file path must be absolute: " + source);
    }
    if (Files.isDirectory(source)) {
      throw new TetherException(ErrorCode.FILE_NOT_FOUND, "cannot send " + source + ": it is a folder; transferFile sends one"
          + " file (pack a folder into an archive first)");
    }
    if (!Files.isRegularFile(source)) {
      throw new TetherException(ErrorCode.FILE_NOT_FOUND, "no file at " + source);
    }
    if (!Files.isReadable(source)) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot read " + source);
    }
    ObjectNode meta = Json.object();
    if (req.metadata() != null) {
      meta.set("metadata", Json.parse(Payloads.checked(Payloads.withPayload(req.metadata()), PropertyList.MAX_MESSAGE_BYTES, "file metadata")));
    }
    meta.put("name", source.getFileName().toString());
    String id = TransferIds.next();
    Path dest = outDir.resolve(id);
    Path marker = outDir.resolve(id + Snapshot.MARKER);
    try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
      Snapshot capture = new Snapshot(dest, in.size());
      CompletableFuture<Long> queued = null;
      try (FileChannel out = FileChannel.open(dest, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        // the marker is durable before the outbox row: a daemon that finds it on start drops the half-made transfer
        Files.createFile(marker);
        Disk.syncDir(outDir);
        fileStates.captures.put(id, capture);
        queued = outboxWriter.add(new OutboxStore.Outgoing(id, peer, c.appId(), "file", Json.write(meta), dest.toString(), capture.size(), null));
        queued.thenRun(() -> wakeFiles.accept(peer));
        // a kernel-side copy (FileChannel.transferTo) that the sender reads behind; the SHA-256 is computed while sending
        long copied = capture.copy(in, out);
        if (copied < capture.size()) {
          throw new IOException(source + " shrank from " + capture.size() + " to " + copied + " bytes while it was captured");
        }
        out.force(true);
      } catch (IOException | RuntimeException e) {
        capture.fail(e.toString());
        if (queued != null) {
          // the row's commit may still be on its way: the delete goes after it
          try {
            queued.join();
          } catch (RuntimeException notStored) {
            // nothing to delete then
          }
        }
        dropCapture(id, dest, marker);
        if (Disk.diskFull(e)) {
          throw new TetherException(ErrorCode.INSUFFICIENT_SPACE, "no space to snapshot " + source + ": " + e.getMessage(), e);
        }
        throw e;
      }
      Files.delete(marker);
      Disk.syncDir(outDir);
      return queued.whenComplete((seq, failure) -> {
        fileStates.captures.remove(id);
        if (failure != null) {
          capture.fail(failure.toString());
          Disk.deleteQuietly(dest);
        }
      }).thenApply(seq -> {
        ObjectNode r = Json.object();
        r.put("id", id);
        r.put("size", capture.size());
        return r;
      });
    }
  }

  /**
   * Undoes a capture that failed half-way: the partial copy first (a full disk gets its room back), then the outbox
   * row (if committed), and the marker last, so that a row that could not be deleted is dropped on the next start.
   */
  void dropCapture(String id, Path dest, Path marker) {
    fileStates.captures.remove(id);
    // truncated first: the sender may still hold the copy open, and a deleted but open file keeps its blocks, which a
    // full disk needs back for the row's delete below
    try (FileChannel partial = FileChannel.open(dest, StandardOpenOption.WRITE)) {
      partial.truncate(0);
    } catch (IOException gone) {
      // nothing to give back
    }
    Disk.deleteQuietly(dest);
    try {
      outbox.deleteAndWait(id);
    } catch (RuntimeException e) {
      log.warn("cannot drop the half-made file transfer {} now (the next start does): {}", id, e.toString());
      return;
    }
    Disk.deleteQuietly(marker);
  }

  /** On start: drops stale copies and every transfer whose capture a stopped daemon left half-made. */
  void cleanStale() throws IOException {
    try (var s = Files.list(outDir)) {
      for (Path p : s.toList()) {
        String name = p.getFileName().toString();
        if (name.endsWith(".snap")) {
          Files.deleteIfExists(p);
        } else if (name.endsWith(Snapshot.MARKER)) {
          String id = name.substring(0, name.length() - Snapshot.MARKER.length());
          log.warn("dropping file transfer {}: the daemon stopped while capturing it, before its app was told it was queued", id);
          dropCapture(id, outDir.resolve(id), p);
        }
      }
    }
  }
}
