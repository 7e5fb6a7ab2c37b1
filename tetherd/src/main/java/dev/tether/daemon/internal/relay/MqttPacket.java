package dev.tether.daemon.internal.relay;

import java.util.Arrays;
import java.util.List;

/** The MQTT 3.1.1 control packets the relay uses (see {@link MqttCodec}). */
public sealed interface MqttPacket {
  /**
   * CONNECT with a client id, the clean-session flag, the keep-alive in seconds and optional credentials (no will):
   * {@code username} null for none, {@code password} null for none (MQTT 3.1.1 allows a password only with a user
   * name). {@link #toString} never shows the password.
   */
  record Connect(String clientId, boolean cleanSession, int keepAliveSeconds, String username, byte[] password)
      implements MqttPacket {
    /** A CONNECT without credentials. */
    public Connect(String clientId, boolean cleanSession, int keepAliveSeconds) {
      this(clientId, cleanSession, keepAliveSeconds, null, null);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Connect c && clientId.equals(c.clientId) && cleanSession == c.cleanSession
          && keepAliveSeconds == c.keepAliveSeconds && java.util.Objects.equals(username, c.username)
          && Arrays.equals(password, c.password);
    }

    @Override
    public int hashCode() {
      return clientId.hashCode() * 31 + keepAliveSeconds;
    }

    @Override
    public String toString() {
      return "Connect[" + clientId + ", clean " + cleanSession + ", keep-alive " + keepAliveSeconds
          + (username == null ? "" : ", user " + username) + (password == null ? "" : ", password set") + "]";
    }
  }

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
