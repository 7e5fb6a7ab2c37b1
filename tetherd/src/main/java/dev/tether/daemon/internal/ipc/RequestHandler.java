package dev.tether.daemon.internal.ipc;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.CompletableFuture;

/**
 * Handles one request type. Return the response body (completed later if the answer waits on a commit). Throw or
 * complete exceptionally with a {@link dev.tether.protocol.TetherException} for a typed error; anything else is reported as
 * {@code GENERIC} with its message.
 */
@FunctionalInterface
public interface RequestHandler {
  CompletableFuture<ObjectNode> handle(ClientConnection connection, ObjectNode body) throws Exception;
}
