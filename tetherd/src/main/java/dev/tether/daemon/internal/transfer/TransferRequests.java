package dev.tether.daemon.internal.transfer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The transfer operations' requests, parsed into records at the IPC edge on the connection's reader thread (pure; no
 * state). A parse throws only what the request alone shows wrong; checks that need the app, its sessions or the file
 * system come after, in the handlers, in the order they always came, so every refusal keeps its code and message.
 */
final class TransferRequests {
  private TransferRequests() {}

  /** {@code transfer.session.open}. */
  record Open(String session, SessionConfig configuration, boolean eventBatches) {
    static Open parse(ObjectNode b) {
      String session = sessionIdentifier(b);
      return new Open(session, SessionConfig.fromJson(b.get("configuration")), b.path("eventBatches").asBoolean(false));
    }
  }

  /** {@code transfer.session.close}: with {@code cancel}, the session's transfers are cancelled. */
  record Close(String session, boolean cancel) {
    static Close parse(ObjectNode b) {
      return new Close(sessionIdentifier(b), b.path("cancel").asBoolean(false));
    }
  }

  /**
   * One transfer to create, as asked (checked by the creator, in order). Text fields the request lacks, or that are
   * not text, are null; {@code notBeforeJson} is how {@code notBefore} was written (for the refusal's message).
   */
  record Item(boolean hasResumeData, String resumeData, String url, String method, String file, String destination,
      Map<String, String> headers, String notBefore, String notBeforeJson, long expectedBytes, String description) {
    static Item parse(ObjectNode b) {
      Map<String, String> headers = new HashMap<>();
      if (b.path("headers").isObject()) {
        b.get("headers").fields().forEachRemaining(e -> headers.put(e.getKey(), e.getValue().asText()));
      }
      return new Item(b.has("resumeData"), b.hasNonNull("resumeData") ? b.get("resumeData").asText() : null,
          text(b, "url"), b.path("method").asText("PUT"), text(b, "file"),
          b.hasNonNull("destination") ? b.get("destination").asText() : null, headers,
          b.hasNonNull("notBefore") ? b.get("notBefore").asText() : null,
          b.hasNonNull("notBefore") ? b.get("notBefore").toString() : null, b.path("expectedBytes").asLong(-1),
          b.hasNonNull("description") ? b.get("description").asText() : null);
    }
  }

  /**
   * {@code transfer.download} / {@code transfer.upload}: one transfer ({@code item}), or with {@code items} many
   * ({@code many}; each entry an {@link Item} or the {@link TetherException} that refuses it), answered briefly with
   * {@code brief}.
   */
  record Create(String session, Item item, List<Object> many, boolean brief) {
    static Create parse(ObjectNode b) {
      if (!b.has("items")) {
        return new Create(sessionIdentifier(b), Item.parse(b), null, false);
      }
      JsonNode items = b.get("items");
      if (!items.isArray() || items.isEmpty() || items.size() > 100_000) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "items must be an array of 1 to 100000 transfer requests");
      }
      String session = sessionIdentifier(b);
      List<Object> many = new ArrayList<>(items.size());
      for (JsonNode item : items) {
        if (!(item instanceof ObjectNode o) || o.has("resumeData")) {
          many.add(new TetherException(ErrorCode.INVALID_PARAMETER, "each item is a transfer request without resumeData"));
        } else {
          many.add(Item.parse(o));
        }
      }
      return new Create(session, null, many, b.path("brief").asBoolean(false));
    }
  }

  /** {@code transfer.get}, {@code transfer.suspend}, {@code transfer.resume}: one transfer by id. */
  record ById(long id) {
    static ById parse(ObjectNode b) {
      return new ById(transferId(b));
    }
  }

  /** {@code transfer.cancel}. */
  record Cancel(long id, boolean produceResumeData) {
    static Cancel parse(ObjectNode b) {
      return new Cancel(transferId(b), b.path("produceResumeData").asBoolean(false));
    }
  }

  /**
   * {@code transfer.list}: every app's ({@code allApps}, the CLI only) or the caller's, of one session when
   * {@code hasSession} ({@code session} is null when it was not text: the handler refuses it after the permission check).
   */
  record ListTransfers(boolean allApps, boolean hasSession, String session) {
    static ListTransfers parse(ObjectNode b) {
      return new ListTransfers(b.path("allApps").asBoolean(false), b.hasNonNull("session"), text(b, "session"));
    }
  }

  /** The app's answer to an authentication challenge. */
  record Answer(String disposition, String user, String password) {
    static Answer parse(JsonNode a) {
      return a == null ? null
          : new Answer(a.path("disposition").asText("performDefault"), a.path("user").asText(""), a.path("password").asText(""));
    }
  }

  /**
   * {@code transfer.ack}: the app's delegate has returned from each of the events {@code seqs} (a burst), or from the
   * one event {@code seq} with its {@code answer} to a challenge (or from {@code eventsFinished}).
   */
  record Ack(String session, List<Long> seqs, Answer answer) {
    static Ack parse(ObjectNode b) {
      String session = sessionIdentifier(b);
      List<Long> seqs = new ArrayList<>();
      if (b.path("seqs").isArray()) {
        b.get("seqs").forEach(n -> seqs.add(n.asLong(-1)));
      } else {
        seqs.add(b.path("seq").asLong(-1));
      }
      return new Ack(session, List.copyOf(seqs), seqs.size() == 1 ? Answer.parse(b.get("answer")) : null);
    }
  }

  /** {@code transfer.conditions}: read them, or (the CLI only) override power and network; null: unchanged. */
  record Conditions(String power, String network) {
    static Conditions parse(ObjectNode b) {
      return new Conditions(b.hasNonNull("power") ? b.get("power").asText() : null,
          b.hasNonNull("network") ? b.get("network").asText() : null);
    }
  }

  /** A session identifier: non-empty text of at most 256 characters. */
  static String sessionIdentifier(ObjectNode b) {
    return checkSession(text(b, "session"));
  }

  /** Refuses a session identifier that is null (missing or not text), blank or too long, as a parse would. */
  static String checkSession(String id) {
    if (id == null || id.isBlank()) {
      throw needsText("session");
    }
    if (id.length() > 256) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "a session identifier has at most 256 characters");
    }
    return id;
  }

  /** The refusal of a request that lacks the non-empty text field {@code field}. */
  static TetherException needsText(String field) {
    return new TetherException(ErrorCode.INVALID_PARAMETER, "the request needs a non-empty text field '" + field + "'");
  }

  private static long transferId(ObjectNode b) {
    JsonNode idNode = b.get("id");
    if (idNode == null || !idNode.canConvertToLong()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "the request needs a numeric transfer 'id'");
    }
    return idNode.asLong();
  }

  /** The field's text when it is text, else null. */
  private static String text(ObjectNode b, String field) {
    JsonNode n = b.get(field);
    return n == null || !n.isTextual() ? null : n.asText();
  }
}
