package dev.tether.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * One message on a Tether connection (app to daemon, or daemon to daemon).
 *
 * <p>{@code type} names the operation or event ({@code "transfer.download"}, {@code "event"}); {@code id} pairs a
 * response with its request (0 for messages that expect no response); {@code body} holds the operation's fields.
 * A response has type {@link #RESPONSE} or {@link #ERROR} and the id of its request.
 */
public record Frame(String type, long id, ObjectNode body) {
  public static final String RESPONSE = "ok";
  public static final String ERROR = "error";

  public Frame {
    Objects.requireNonNull(type, "type");
    if (body == null) {
      body = JsonNodeFactory.instance.objectNode();
    }
  }

  public static Frame of(String type, long id, ObjectNode body) {
    return new Frame(type, id, body);
  }

  public boolean isResponse() {
    return RESPONSE.equals(type) || ERROR.equals(type);
  }

  public String text(String field) {
    JsonNode n = body.get(field);
    return n == null || n.isNull() ? null : n.asText();
  }

  @Override
  public String toString() {
    return type + "#" + id + " " + body;
  }
}
