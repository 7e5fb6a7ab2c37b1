package dev.tether.protocol;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * An object node read from a frame that also keeps the JSON text it was read from, so that a daemon storing or
 * forwarding a payload need not write the tree out again ({@link Json#sourceText}). Only {@code "payload"} objects
 * are read this way. The text is the frame's own bytes for that value; callers must not change the node.
 */
final class SourcedObjectNode extends ObjectNode {
  private static final long serialVersionUID = 1L;
  private transient String source;

  SourcedObjectNode(JsonNodeFactory nodes) {
    super(nodes);
  }

  void source(String text) {
    this.source = text;
  }

  String source() {
    return source;
  }
}
