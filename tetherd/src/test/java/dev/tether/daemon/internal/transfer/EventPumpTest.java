package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.protocol.Json;
import org.junit.jupiter.api.Test;

class EventPumpTest {
  @Test
  void anEventsTextIsItsStoredBodyWithSeqAndTypeInFront() {
    assertThat(EventPump.eventText(7, "completed", "{\"transfer\":{\"id\":1}}"))
        .isEqualTo("{\"seq\":7,\"type\":\"completed\",\"transfer\":{\"id\":1}}");
    assertThat(EventPump.eventText(8, "eventsFinished", " { } ")).isEqualTo("{\"seq\":8,\"type\":\"eventsFinished\"}");
    String odd = EventPump.eventText(9, "we\"ird", "{\"a\":1}");
    assertThat(Json.parseObject(odd).path("type").asText()).isEqualTo("we\"ird");
    assertThatThrownBy(() -> EventPump.eventText(10, "x", "[1]")).isInstanceOf(IllegalStateException.class);
  }
}
