package dev.tether.daemon.internal.ipc;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.TetherException;

/**
 * Turns a request's JSON body into its record at the IPC edge, so that services never read raw JSON trees. Runs on
 * the connection's reader thread; must not block. Bad input is a {@link TetherException} with a typed code and a
 * message that says what to change.
 */
@FunctionalInterface
public interface RequestParser<R> {
  R parse(ObjectNode body) throws TetherException;
}
