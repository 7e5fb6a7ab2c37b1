package dev.tether.daemon.internal.relay;

import java.util.Arrays;
import java.util.List;

/** The MQTT 3.1.1 control packets the relay uses (see {@link MqttCodec}). */
public sealed interface MqttPacket {
  /** CONNECT with a client id, the clean-session flag and the keep-alive in seconds (no will, no credentials). */
  record Connect(String clientId, boolean cleanSession, int keepAliveSeconds) implements MqttPacket {}

  /** CONNACK: {@code returnCode} 0 is accepted. */
  record ConnAck(boolean sessionPresent, int returnCode) implements MqttPacket {}

  /** PUBLISH; {@code packetId} is 0 for QoS 0. */
  record Publish(String topic, int qos, int packetId, boolean dup, boolean retain, byte[] payload) implements MqttPacket {
    @Override
    public boolean equals(Object o) {
      return o instanceof Publish p && topic.equals(p.topic) && qos == p.qos && packetId == p.packetId && dup == p.dup
          && retain == p.retain && Arrays.equals(payload, p.payload);
    }

    @Override
    public int hashCode() {
      return topic.hashCode() * 31 + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
      return "Publish[" + topic + ", qos " + qos + ", id " + packetId + ", " + payload.length + " bytes]";
    }
  }

  /** PUBACK for a QoS 1 PUBLISH. */
  record PubAck(int packetId) implements MqttPacket {}

  /** One topic filter of a SUBSCRIBE with its requested QoS. */
  record Subscription(String filter, int qos) {}

  /** SUBSCRIBE. */
  record Subscribe(int packetId, List<Subscription> subscriptions) implements MqttPacket {}

  /** SUBACK: one return code per requested filter (0, 1, 2 = granted QoS; 0x80 = failure). */
  record SubAck(int packetId, List<Integer> returnCodes) implements MqttPacket {}

  /** PINGREQ. */
  record PingReq() implements MqttPacket {}

  /** PINGRESP. */
  record PingResp() implements MqttPacket {}

  /** DISCONNECT. */
  record Disconnect() implements MqttPacket {}
}
