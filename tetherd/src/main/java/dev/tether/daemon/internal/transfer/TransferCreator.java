package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.time.TetherClock;
import dev.tether.protocol.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;

/**
 * Starts on the connection's reader thread and continues on the transfer control executor ({@code tether-transfer-ctl})
 * after its store write: {@code transfer.download} and {@code transfer.upload}. Checks each request, inserts the new
 * transfers in one store write, then schedules them and answers with their snapshots.
 */
final class TransferCreator {
  private final TransferStore store;
  private final TetherClock clock;
  private final Path dir;
  private final Sessions sessions;
  private final Scheduler scheduler;
  private final TransferView view;
  private final ExecutorService control;

  TransferCreator(TransferStore store, TetherClock clock, Path dir, Sessions sessions, Scheduler scheduler,
      TransferView view, ExecutorService control) {
    this.store = store;
    this.clock = clock;
    this.dir = dir;
    this.sessions = sessions;
    this.scheduler = scheduler;
    this.view = view;
    this.control = control;
  }

  /**
   * One transfer, or with {@code items} many in one commit, answered with {@code transfers}: each item's snapshot or
   * its {@code error}, in order; with {@code "brief": true} each created item is only {@code {"id": N}} (for a caller
   * that has the rest of what it needs).
   */
  CompletableFuture<ObjectNode> create(ClientConnection conn, TransferRequests.Create req, String kind) throws IOException {
    if (req.many() != null) {
      return createMany(conn, req, kind);
    }
    NewTransfer n = prepare(conn, req.session(), req.item(), kind);
    return store.write(c -> insert(c, n)).thenApplyAsync(id -> {
      scheduler.schedule(id);
      return view.snapshot(store.load(id));
    }, control);
  }

  private CompletableFuture<ObjectNode> createMany(ClientConnection conn, TransferRequests.Create req, String kind) {
    List<NewTransfer> valid = new ArrayList<>();
    List<Object> results = new ArrayList<>(); // NewTransfer to insert, or the TetherException that refused it
    for (Object item : req.many()) {
      if (item instanceof TetherException e) {
        results.add(e);
        continue;
      }
      try {
        NewTransfer n = prepare(conn, req.session(), (TransferRequests.Item) item, kind);
        valid.add(n);
        results.add(n);
      } catch (TetherException e) {
        results.add(e);
      } catch (IOException e) {
        results.add(new TetherException(ErrorCode.GENERIC, e.toString()));
      }
    }
    return store.write(c -> {
      List<Long> ids = new ArrayList<>();
      for (NewTransfer n : valid) {
        ids.add(insert(c, n));
      }
      // the new rows, read back in one query rather than one each
      Map<Long, TransferRow> rows = new HashMap<>();
      if (!ids.isEmpty()) {
        for (TransferRow r : store.rowsBetweenTx(c, Collections.min(ids), Collections.max(ids))) {
          rows.put(r.id(), r);
        }
      }
      List<TransferRow> created = new ArrayList<>();
      for (long id : ids) {
        created.add(rows.get(id));
      }
      return created;
    }).thenApplyAsync(created -> {
      ObjectNode out = Json.object();
      ArrayNode list = out.putArray("transfers");
      int next = 0;
      for (Object r : results) {
        if (r instanceof TetherException e) {
          ObjectNode err = list.addObject().putObject("error");
          err.put("code", e.code().name());
          err.put("message", e.getMessage());
        } else {
          TransferRow row = created.get(next++);
          scheduler.schedule(row.id(), row);
          if (req.brief()) {
            list.addObject().put("id", row.id());
          } else {
            list.add(view.snapshot(row));
          }
        }
      }
      return out;
    }, control);
  }

  private NewTransfer prepare(ClientConnection conn, String session, TransferRequests.Item b, String kind) throws IOException {
    SessionKey key = sessions.require(conn.appId(), session);
    SessionConfig cfg = sessions.config(key);
    ResumeData resume = b.resumeData() != null ? ResumeData.decode(b.resumeData(), dir) : null;
    String url = resume != null ? resume.url : requireText(b.url(), "url");
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw new TetherException(ErrorCode.INVALID_URL, "'" + url + "' is not a valid URL: " + e.getMessage());
    }
    String problem = HttpAttempt.urlProblem(uri, cfg.allowsPlainHttp());
    if (problem != null) {
      throw new TetherException(ErrorCode.INVALID_URL, problem);
    }
    String method = "GET";
    String uploadFile = null;
    if (kind.equals("upload")) {
      method = b.method().toUpperCase(Locale.ROOT);
      if (!method.equals("PUT") && !method.equals("POST")) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "an upload's method is PUT or POST, not " + method);
      }
      Path f = Path.of(requireText(b.file(), "file"));
      if (!f.isAbsolute()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the upload file must be an absolute path, got " + f);
      }
      if (!Files.isRegularFile(f) || !Files.isReadable(f)) {
        throw new TetherException(ErrorCode.FILE_NOT_FOUND, "the upload file " + f + " does not exist or cannot be read");
      }
      uploadFile = f.toString();
    }
    String destination = null;
    if (b.destination() != null) {
      destination = checkDestination(Path.of(b.destination())).toString();
    }
    long now = clock.now().toEpochMilli();
    Long notBefore = null;
    if (b.notBefore() != null) {
      try {
        notBefore = Instant.parse(b.notBefore()).toEpochMilli();
      } catch (RuntimeException e) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "notBefore must be an ISO-8601 instant, got " + b.notBeforeJson());
      }
    }
    long expected = b.expectedBytes();
    if (kind.equals("download") && expected > 0) {
      long have = resume == null ? 0 : resume.bytes;
      String shortfall = DiskSpace.shortfall(dir, Math.max(0, expected - have), destination == null ? null : Path.of(destination), expected);
      if (shortfall != null) {
        throw new TetherException(ErrorCode.INSUFFICIENT_SPACE, shortfall);
      }
    }
    long deadline = Math.max(now, notBefore == null ? now : notBefore) + cfg.resourceTimeout().toMillis();
    return new NewTransfer(key, kind, url, method, new HashMap<>(b.headers()), b.description(), notBefore, expected,
        destination, uploadFile, now, deadline, resume);
  }

  private static String requireText(String text, String field) {
    if (text == null || text.isBlank()) {
      throw TransferRequests.needsText(field);
    }
    return text;
  }

  /** Inserts a prepared transfer (in the caller's write), moving a resumed download's kept bytes to its part file; its id. */
  private long insert(Connection c, NewTransfer n) throws SQLException {
    long id = store.insertTx(c, n);
    ResumeData resume = n.resume();
    if (resume != null) {
      try {
        Files.move(resume.file, dir.resolve(TransferStore.partName(id)), StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the resume data's partial file cannot be used: " + e.getMessage());
      }
    }
    return id;
  }

  private static Path checkDestination(Path dest) {
    if (!dest.isAbsolute()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the destination must be an absolute path, got " + dest);
    }
    if (Files.isDirectory(dest)) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "the destination " + dest + " is a directory; name a file");
    }
    Path parent = dest.getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "the destination's folder " + parent + " does not exist; create it first");
    }
    if (!Files.isWritable(parent) || (Files.exists(dest) && !Files.isWritable(dest))) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "the destination " + dest + " cannot be written by tetherd (check permissions)");
    }
    String virtual = virtualFolderProblem(parent);
    if (virtual != null) {
      throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot write " + dest + ": " + virtual);
    }
    return dest.normalize();
  }

  /**
   * Why no file can be made in {@code folder}, when it has no disk behind it (a size of 0, as {@code /proc} and
   * {@code /sys} have: there the permission bits say writable to root, yet nothing can be created); null when it has a
   * size, or a file can be made in it after all. One {@code statvfs}; only a sizeless folder is tried with a file.
   */
  private static String virtualFolderProblem(Path folder) {
    if (folder.toFile().getTotalSpace() > 0) {
      return null;
    }
    try {
      Files.delete(Files.createTempFile(folder, ".tether-probe-", ".tmp"));
      return null;
    } catch (IOException | SecurityException | UnsupportedOperationException e) {
      String why = e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason() : e.toString();
      return folder + " is not on a disk and takes no new files (" + why + "); choose a file on a disk";
    }
  }
}
