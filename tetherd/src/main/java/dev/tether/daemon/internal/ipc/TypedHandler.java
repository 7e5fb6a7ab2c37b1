package dev.tether.daemon.internal.ipc;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.CompletableFuture;

/**
 * Handles one operation's parsed request (see {@link RequestParser}). Runs on the connection's reader thread and
 * must hand any real work to the owning capability's executor; completes with the response body.
 */
@FunctionalInterface
public interface TypedHandler<R> {
  CompletableFuture<ObjectNode> handle(ClientConnection connection, R request) throws Exception;
}
