package dev.tether.daemon.internal.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** MQTT clients a test starts against a broker, closed together, with what each received. */
final class TestClients implements AutoCloseable {
  private final String idPrefix;
  private final List<MqttClient> clients = new ArrayList<>();

  /** Client ids are {@code idPrefix} and a number. */
  TestClients(String idPrefix) {
    this.idPrefix = idPrefix;
  }

  /** Records the messages a client receives, as {@code topic=payload}. */
  static final class Recorder implements MqttClient.Handler {
    final List<String> messages = new CopyOnWriteArrayList<>();

    @Override
    public void message(String topic, byte[] payload) {
      messages.add(topic + "=" + new String(payload, StandardCharsets.UTF_8));
    }

    @Override
    public void connected() {}

    @Override
    public void disconnected(String reason) {}
  }

  /** Starts a client of {@code broker} subscribed to {@code topic/#}. */
  MqttClient start(RelayBroker broker, String topic, Recorder recorder) {
    MqttClient c = new MqttClient(broker, idPrefix + clients.size(), topic + "/#", 30, 64 * 1024, recorder);
    clients.add(c);
    c.start();
    return c;
  }

  /**
   * Checks that {@code client} connects and carries three messages published under {@code topic} back to
   * {@code recorder} (its own subscription), with no error left behind.
   */
  static void assertConnectsAndCarriesMessages(MqttClient client, Recorder recorder, String topic) throws IOException {
    await().atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(client.isConnected()).as("%s", client.lastError()).isTrue());
    for (int i = 0; i < 3; i++) {
      client.publish(topic + "/" + i, ("hello " + i).getBytes(StandardCharsets.UTF_8));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> recorder.messages.size() == 3);
    assertThat(recorder.messages)
        .containsExactlyInAnyOrder(topic + "/0=hello 0", topic + "/1=hello 1", topic + "/2=hello 2");
    assertThat(client.lastError()).isNull();
  }

  /** The first error of a client that must not connect (it stays unconnected and says when it failed). */
  String refusal(RelayBroker broker) {
    MqttClient c = start(broker, "t/refused", new Recorder());
    await().atMost(Duration.ofSeconds(20)).until(() -> c.lastError() != null);
    assertThat(c.isConnected()).isFalse();
    assertThat(c.lastErrorAt()).isNotNull();
    return c.lastError();
  }

  @Override
  public void close() {
    clients.forEach(MqttClient::close);
    clients.clear();
  }
}
