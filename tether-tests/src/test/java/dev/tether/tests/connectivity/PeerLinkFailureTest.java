package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A device whose link cannot come up says why in {@code tether peers}, and what to do about it. */
class PeerLinkFailureTest {
  @TempDir Path tmp;

  @Test
  void aDeviceThePrimaryUnpairedWhileItWasOffSaysSoInPeersAndHowToPairAgain() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      String companion = peer(d.primary.home()).path("peer").asText();
      d.companion.kill9();
      Cli.Result unpair = Cli.run(d.primary.home(), "unpair", companion);
      assertThat(unpair.exitCode()).as(unpair.toString()).isZero();
      d.companion.start();

      await().atMost(Duration.ofSeconds(30)).until(() -> peer(d.companion.home()).has("lastError"));
      JsonNode primary = peer(d.companion.home());
      assertThat(primary.path("connected").asBoolean()).isFalse();
      assertThat(primary.path("lastError").asText()).contains("no longer trusts this device")
          .contains("tether unpair " + primary.path("peer").asText().substring(0, 12));
      assertThat(primary.path("lastErrorAt").asText()).isNotEmpty();
      Cli.Result text = Cli.run(d.companion.home(), "peers");
      assertThat(text.out()).as(text.toString()).contains("not connected").contains("cannot link").contains("unpaired it");

      // pairing again without following the advice says what to do
      ObjectNode offer;
      try (DaemonClient cli = d.primary.client("dev.tether.cli")) {
        ObjectNode b = Json.object();
        b.put("host", "127.0.0.1");
        offer = cli.call("cx.pair.listen", b);
      }
      String address = offer.path("address").asText();
      String code = offer.path("code").asText();
      Cli.Result again = Cli.run(d.companion.home(), "pair", "connect", address, code);
      assertThat(again.exitCode()).as(again.toString()).isEqualTo(4);
      assertThat(again.err()).contains("already paired").contains("tether unpair " + primary.path("peer").asText().substring(0, 12));

      // the advice works: forget the primary here, pair again with the same code, and the link comes up
      assertThat(Cli.run(d.companion.home(), "unpair", primary.path("peer").asText()).exitCode()).isZero();
      assertThat(Cli.run(d.companion.home(), "peers").out()).contains("no paired devices");
      Cli.Result paired = Cli.run(d.companion.home(), "pair", "connect", address, code);
      assertThat(paired.exitCode()).as(paired.toString()).isZero();
      await().atMost(Duration.ofSeconds(30)).until(() -> peer(d.companion.home()).path("connected").asBoolean());
      assertThat(peer(d.companion.home()).has("lastError")).isFalse();
    }
  }

  private static JsonNode peer(Path home) {
    Cli.Result r = Cli.run(home, "peers", "--json");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    return Json.parse(r.out()).path("peers").path(0);
  }
}
