package dev.tether.testing;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An app's wakes (oldest first) and its waiting tasks, as tetherd recorded them. */
public final class Timeline {
  private final List<Wake> wakes;
  private final List<Waiting> waiting;

  private Timeline(List<Wake> wakes, List<Waiting> waiting) {
    this.wakes = List.copyOf(wakes);
    this.waiting = List.copyOf(waiting);
  }

  static Timeline from(JsonNode json) {
    List<Wake> wakes = new ArrayList<>();
    for (JsonNode w : json.path("wakes")) {
      List<String> tasks = new ArrayList<>();
      List<String> states = new ArrayList<>();
      int coalesced = 0;
      for (JsonNode t : w.path("tasks")) {
        tasks.add(describe(t));
        states.add(t.path("state").asText(""));
        coalesced += t.path("coalesced").asInt();
      }
      WakeOutcome outcome = w.path("outcome").isNull() ? WakeOutcome.RUNNING : WakeOutcome.valueOf(w.path("outcome").asText());
      wakes.add(new Wake(w.path("id").asText(), Instant.parse(w.path("startedAt").asText()),
          w.path("endedAt").isNull() ? null : Instant.parse(w.path("endedAt").asText()), w.path("launched").asBoolean(),
          w.path("reason").asText(""), List.copyOf(tasks), List.copyOf(states), coalesced, outcome, Duration.ofMillis(w.path("durationMs").asLong()),
          Duration.ofMillis(w.path("overrunMs").asLong()), Duration.ofMillis(w.path("chargedMs").asLong()),
          w.path("error").isNull() ? null : w.path("error").asText()));
    }
    Collections.reverse(wakes);
    List<Waiting> waiting = new ArrayList<>();
    for (JsonNode t : json.path("waiting")) {
      Map<String, Object> info = t.path("userInfo").isObject()
          ? Json.mapper().convertValue(t.get("userInfo"), new TypeReference<LinkedHashMap<String, Object>>() {}) : Map.of();
      waiting.add(new Waiting(t.path("id").asText(), describe(t), WaitReasons.fromWire(t.path("reason").asText()),
          t.path("until").isNull() ? null : Instant.parse(t.path("until").asText()), t.path("detail").asText(),
          t.path("coalesced").asInt(), Collections.unmodifiableMap(info), t.path("cause").asText("")));
    }
    return new Timeline(wakes, waiting);
  }

  private static String describe(JsonNode t) {
    String kind = t.path("kind").asText();
    return t.has("sessionIdentifier") ? kind + "(" + t.path("sessionIdentifier").asText() + ")" : kind;
  }

  /** Every wake, oldest first. */
  public List<Wake> wakes() {
    return wakes;
  }

  /** Every task not delivered yet, with why it waits. */
  public List<Waiting> waiting() {
    return waiting;
  }

  @Override
  public String toString() {
    return "Timeline[wakes=" + wakes + ", waiting=" + waiting + "]";
  }
}
