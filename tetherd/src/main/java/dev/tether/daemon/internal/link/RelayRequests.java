package dev.tether.daemon.internal.link;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.Threads;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.daemon.internal.relay.RelayBroker;
import dev.tether.protocol.wire.ConnectivityOp;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs on the IPC connection's reader thread, and hands a change of the setting (which stores it and reconnects) to
 * its one {@code tether-relay-settings} thread, so changes apply in order. The relay requests of the CLI
 * ({@code cx.relay.set/status/clear}), parsed into records at the IPC edge and answered by the {@link LinkManager}.
 */
public final class RelayRequests implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RelayRequests.class);

  private final LinkManager links;
  private final Path database;
  private final ExecutorService changes = Threads.serial("tether-relay-settings");

  /** {@code database} is the store's file, made readable by its owner only before a client key is stored in it. */
  public RelayRequests(LinkManager links, Path database) {
    this.links = links;
    this.database = database;
  }

  /** {@code cx.relay.set}: the broker URL and its optional credentials and PEM texts. */
  public record SetRequest(String broker, String username, String password, String caPem, String clientCertPem,
                           String clientKeyPem) {
    public static SetRequest parse(ObjectNode b) {
      if (!b.hasNonNull("broker") || b.get("broker").asText().isBlank()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "cx.relay.set needs \"broker\": \"mqtts://HOST[:PORT]\" "
            + "or \"mqtt://HOST[:PORT]\"");
      }
      return new SetRequest(b.get("broker").asText().trim(), text(b, "username"), text(b, "password"),
          text(b, "caPem"), text(b, "clientCertPem"), text(b, "clientKeyPem"));
    }
  }

  /** No fields ({@code cx.relay.status}, {@code cx.relay.clear}). */
  public record NoRequest() {
    public static NoRequest parse(ObjectNode b) {
      return new NoRequest();
    }
  }

  public void register(IpcServer ipc) {
    ipc.register(ConnectivityOp.RELAY_SET, SetRequest::parse, (c, r) -> CompletableFuture.supplyAsync(() -> set(r), changes));
    ipc.register(ConnectivityOp.RELAY_CLEAR, NoRequest::parse, (c, r) -> CompletableFuture.supplyAsync(() -> {
      links.setRelay(null);
      return links.relayStatus();
    }, changes));
    ipc.register(ConnectivityOp.RELAY_STATUS, NoRequest::parse, (c, r) -> CompletableFuture.completedFuture(links.relayStatus()));
  }

  private ObjectNode set(SetRequest r) {
    RelayBroker broker = RelayBroker.parse(r.broker(), r.username(), r.password(), r.caPem(), r.clientCertPem(),
        r.clientKeyPem());
    if (broker.clientCert() != null) {
      ownerOnly(database);
    }
    links.setRelay(broker);
    return links.relayStatus();
  }

  /** A string field of a request body; null when it is absent or JSON null. */
  private static String text(JsonNode body, String field) {
    JsonNode n = body.get(field);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isTextual()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "\"" + field + "\" must be a string");
    }
    return n.asText();
  }

  /**
   * Makes the database and its WAL files readable and writable by their owner only (0600; SQLite gives later WAL files
   * the database's mode), before a private key is stored in it. The home is 0700 as well; this holds if it is widened.
   */
  private static void ownerOnly(Path db) {
    for (String suffix : List.of("", "-wal", "-shm")) {
      Path f = db.resolveSibling(db.getFileName() + suffix);
      try {
        if (Files.exists(f)) {
          Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        }
      } catch (IOException | UnsupportedOperationException e) {
        log.warn("cannot make {} readable by its owner only: {}", f, e.toString());
      }
    }
  }

  @Override
  public void close() {
    changes.shutdownNow();
  }
}
