package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.TestHttpServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transfer protocol as a client speaks it over the real socket: a many-item create answered with snapshots or,
 * when asked to be brief, with ids only; events pushed one frame each to a client that did not ask for batches (an
 * older client) and many per {@code transfer.events} frame to one that did, in order either way, and re-delivered when
 * not acknowledged.
 */
class TransferEventFramesTest {
  @TempDir Path tmp;

  private record Pushed(String frame, ObjectNode event) {}

  private static ObjectNode openBody(String session, boolean batches) {
    ObjectNode b = Json.object();
    b.put("session", session);
    ObjectNode cfg = b.putObject("configuration");
    cfg.put("maxConnectionsPerHost", 4);
    cfg.put("sendsLaunchEvents", false);
    if (batches) {
      b.put("eventBatches", true);
    }
    return b;
  }

  /** Opens {@code session} on {@code c}, recording every event pushed for it (with the frame type it came in). */
  private static List<Pushed> open(DaemonClient c, String session, boolean batches) {
    List<Pushed> pushed = new CopyOnWriteArrayList<>();
    c.onPush("transfer.event", e -> pushed.add(new Pushed("transfer.event", e)));
    c.onPush("transfer.events", b -> {
      assertThat(b.path("session").asText()).isEqualTo(session);
      b.path("events").forEach(e -> pushed.add(new Pushed("transfer.events", (ObjectNode) e)));
    });
    c.call("transfer.session.open", openBody(session, batches));
    return pushed;
  }

  private ObjectNode createMany(DaemonClient c, String session, TestHttpServer server, int n, boolean brief) {
    return createMany(c, session, server, n, brief, null);
  }

  private ObjectNode createMany(DaemonClient c, String session, TestHttpServer server, int n, boolean brief, String description) {
    ObjectNode many = Json.object();
    many.put("session", session);
    if (brief) {
      many.put("brief", true);
    }
    ArrayNode items = many.putArray("items");
    for (int i = 0; i < n; i++) {
      ObjectNode item = items.addObject();
      item.put("url", server.url("/e" + i).toString());
      item.put("destination", tmp.resolve(session + "-" + i).toString());
      if (description != null) {
        item.put("description", description);
      }
    }
    items.addObject().put("url", "ftp://127.0.0.1/refused");
    return c.call("transfer.download", many);
  }

  private static void ack(DaemonClient c, String session, List<Pushed> events) {
    ObjectNode ack = Json.object();
    ack.put("session", session);
    ArrayNode seqs = ack.putArray("seqs");
    events.forEach(p -> seqs.add(p.event().path("seq").asLong()));
    c.call("transfer.ack", ack);
  }

  @Test
  void aClientThatAsksForBatchesGetsManyEventsPerFrameInOrderAndOthersOneEach() throws Exception {
    Path home = tmp.resolve("home");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home)) {
      for (int i = 0; i < 5; i++) {
        server.file("/e" + i, 8 * 1024 + i, 90 + i);
      }
      for (boolean batches : new boolean[] {false, true}) {
        String session = batches ? "batched" : "single";
        try (DaemonClient c = daemon.client("com.example.frames")) {
          List<Pushed> pushed = open(c, session, batches);
          ObjectNode created = createMany(c, session, server, 5, batches);
          JsonNode transfers = created.path("transfers");
          assertThat(transfers).hasSize(6);
          assertThat(transfers.get(5).path("error").path("code").asText()).isEqualTo("INVALID_URL");
          List<Long> ids = new ArrayList<>();
          for (int i = 0; i < 5; i++) {
            JsonNode t = transfers.get(i);
            ids.add(t.path("id").asLong());
            if (batches) {
              assertThat(t.properties()).as("a brief answer is the id alone").hasSize(1);
            } else {
              assertThat(t.path("url").asText()).isEqualTo(server.url("/e" + i).toString());
              assertThat(t.path("state").asText()).isEqualTo("RUNNING");
            }
          }

          await().atMost(Duration.ofSeconds(30)).until(() -> pushed.size() >= 10);
          assertThat(pushed).extracting(Pushed::frame).containsOnly(batches ? "transfer.events" : "transfer.event");
          List<Long> seqs = pushed.stream().map(p -> p.event().path("seq").asLong()).toList();
          assertThat(seqs).isSorted().doesNotHaveDuplicates();
          for (long id : ids) {
            List<String> types = pushed.stream().filter(p -> p.event().path("transfer").path("id").asLong() == id)
                .map(p -> p.event().path("type").asText()).toList();
            assertThat(types).containsExactly("downloadFinished", "completed");
          }
          Pushed finished = pushed.stream().filter(p -> p.event().path("type").asText().equals("downloadFinished")).findFirst().orElseThrow();
          assertThat(finished.event().path("file").asText()).startsWith(tmp.resolve(session + "-").toString());
          assertThat(finished.event().path("transfer").path("state").asText()).isEqualTo("RUNNING");
          Pushed completed = pushed.stream().filter(p -> p.event().path("type").asText().equals("completed")).findFirst().orElseThrow();
          assertThat(completed.event().path("transfer").path("state").asText()).isEqualTo("COMPLETED");
          for (int i = 0; i < 5; i++) {
            assertThat(Files.size(tmp.resolve(session + "-" + i))).isEqualTo(8 * 1024 + i);
          }
          // nothing acknowledged yet: closing now means every event comes again to the next opener
        }
        try (DaemonClient c = daemon.client("com.example.frames")) {
          List<Pushed> again = open(c, session, batches);
          await().atMost(Duration.ofSeconds(30)).until(() -> again.size() >= 10);
          assertThat(again).extracting(Pushed::frame).containsOnly(batches ? "transfer.events" : "transfer.event");
          ack(c, session, again);
          await().atMost(Duration.ofSeconds(30)).until(() -> again.stream().anyMatch(p -> p.event().path("type").asText().equals("eventsFinished")));
          assertThat(again.get(again.size() - 1).event().path("type").asText()).isEqualTo("eventsFinished");
          assertThat(again.get(again.size() - 1).frame()).isEqualTo(batches ? "transfer.events" : "transfer.event");
        }
      }
    }
  }

  @Test
  void aBurstTooBigForOneFrameGoesInSeveralInOrder() throws Exception {
    Path home = tmp.resolve("home");
    try (TestHttpServer server = new TestHttpServer(); DaemonProcess daemon = DaemonProcess.start(home);
        DaemonClient c = daemon.client("com.example.frames")) {
      for (int i = 0; i < 6; i++) {
        server.file("/e" + i, 4 * 1024 + i, 70 + i);
      }
      List<Integer> frameSizes = new CopyOnWriteArrayList<>();
      c.onPush("transfer.events", b -> frameSizes.add(b.path("events").size()));
      List<Pushed> pushed = open(c, "big", true);
      // each event carries its transfer's snapshot, description included: 12 events of ~300 KB, ~3.6 MB in all
      ObjectNode created = createMany(c, "big", server, 6, true, "d".repeat(300_000));
      assertThat(created.path("transfers")).hasSize(7);
      await().atMost(Duration.ofSeconds(60)).until(() -> pushed.size() >= 12);
      assertThat(pushed.stream().map(p -> p.event().path("seq").asLong()).toList()).isSorted().doesNotHaveDuplicates();
      assertThat(pushed).allSatisfy(p -> assertThat(p.event().path("transfer").path("description").asText()).hasSize(300_000));
      assertThat(frameSizes).as("frames of at most ~1 MB of events").hasSizeGreaterThan(1).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(4));
      ack(c, "big", pushed);
      await().atMost(Duration.ofSeconds(30)).until(() -> pushed.stream().anyMatch(p -> p.event().path("type").asText().equals("eventsFinished")));
    }
  }
}
