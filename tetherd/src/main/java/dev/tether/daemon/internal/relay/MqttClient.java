package dev.tether.daemon.internal.relay;

import dev.tether.daemon.internal.relay.MqttPacket.ConnAck;
import dev.tether.daemon.internal.relay.MqttPacket.Connect;
import dev.tether.daemon.internal.relay.MqttPacket.Disconnect;
import dev.tether.daemon.internal.relay.MqttPacket.PingReq;
import dev.tether.daemon.internal.relay.MqttPacket.PingResp;
import dev.tether.daemon.internal.relay.MqttPacket.PubAck;
import dev.tether.daemon.internal.relay.MqttPacket.Publish;
import dev.tether.daemon.internal.relay.MqttPacket.SubAck;
import dev.tether.daemon.internal.relay.MqttPacket.Subscribe;
import dev.tether.daemon.internal.relay.MqttPacket.Subscription;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A minimal MQTT 3.1.1 client: one TCP connection to the broker with a clean session, one subscription, QoS 1
 * publishing and receiving (PUBACK both ways), PINGREQ every half keep-alive, and a reconnect with back-off (200 ms
 * doubling to 10 s, with jitter) whenever the broker goes away. One thread reads and reconnects; publishers write
 * under a lock. Messages are not queued while disconnected: {@link #publish} fails, and the caller (the relay
 * tunnel) closes what depended on the connection.
 */
public final class MqttClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MqttClient.class);

  /** What the client reports; all calls come from its reading thread. */
  public interface Handler {
    /** A message on the subscription. */
    void message(String topic, byte[] payload);

    /** The session is up (CONNACK and SUBACK received). */
    void connected();

    /** The session ended (it may have never started); {@code reason} says why. */
    void disconnected(String reason);
  }

  private final InetSocketAddress broker;
  private final String clientId;
  private final String subscription;
  private final int keepAliveSeconds;
  private final int maxPacketBytes;
  private final Handler handler;
  private final Object writeLock = new Object();
  private final Set<Integer> inFlight = ConcurrentHashMap.newKeySet();
  private final Thread thread;
  private int nextId = 1;
  private volatile Socket socket;
  private volatile OutputStream out;
  private volatile boolean connected;
  private volatile boolean closed;
  private volatile String lastError;

  public MqttClient(InetSocketAddress broker, String clientId, String subscription, int keepAliveSeconds,
      int maxPacketBytes, Handler handler) {
    this.broker = broker;
    this.clientId = clientId;
    this.subscription = subscription;
    this.keepAliveSeconds = keepAliveSeconds;
    this.maxPacketBytes = maxPacketBytes;
    this.handler = handler;
    this.thread = new Thread(this::run, "tether-relay-mqtt");
    this.thread.setDaemon(true);
  }

  public void start() {
    thread.start();
  }

  public boolean isConnected() {
    return connected;
  }

  /** Why the last connection failed or ended; null when none has. */
  public String lastError() {
    return lastError;
  }

  /** Publishes with QoS 1; fails when the client is not connected or the write fails. */
  public void publish(String topic, byte[] payload) throws IOException {
    synchronized (writeLock) {
      if (!connected) {
        throw new IOException("not connected to the MQTT broker " + broker.getHostString() + ":" + broker.getPort());
      }
      int id = nextId;
      nextId = nextId == 0xffff ? 1 : nextId + 1;
      if (!inFlight.add(id)) {
        throw new IOException("65535 MQTT publications are awaiting their PUBACK");
      }
      write(new Publish(topic, 1, id, false, false, payload));
    }
  }

  private void write(MqttPacket p) throws IOException {
    synchronized (writeLock) {
      OutputStream o = out;
      if (o == null) {
        throw new IOException("not connected to the MQTT broker");
      }
      try {
        o.write(MqttCodec.encode(p));
        o.flush();
      } catch (IOException e) {
        closeSocket();
        throw e;
      }
    }
  }

  private void run() {
    long backoff = 200;
    while (!closed) {
      boolean wasUp = false;
      String reason;
      try {
        session();
        reason = "the broker closed the connection";
      } catch (IOException | RuntimeException e) {
        reason = e.getMessage() == null ? e.toString() : e.getMessage();
      } finally {
        wasUp = connected;
        synchronized (writeLock) {
          connected = false;
          out = null;
        }
        closeSocket();
        inFlight.clear();
      }
      if (closed) {
        return;
      }
      lastError = reason;
      if (wasUp) {
        log.warn("lost the MQTT broker {}:{}: {}", broker.getHostString(), broker.getPort(), reason);
        backoff = 200;
      } else {
        log.debug("cannot reach the MQTT broker {}:{}: {}", broker.getHostString(), broker.getPort(), reason);
      }
      handler.disconnected(reason);
      try {
        Thread.sleep(backoff + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
      } catch (InterruptedException e) {
        return;
      }
      backoff = Math.min(10_000, backoff * 2);
    }
  }

  private void session() throws IOException {
    Socket s = new Socket();
    socket = s;
    if (closed) {
      s.close();
      return;
    }
    s.connect(new InetSocketAddress(broker.getHostString(), broker.getPort()), 5_000); // resolved on each attempt
    s.setTcpNoDelay(true);
    // the broker answers a PINGREQ every half keep-alive, so a keep-alive of silence means it is gone
    s.setSoTimeout(keepAliveSeconds * 1000);
    InputStream in = new BufferedInputStream(s.getInputStream(), 64 * 1024);
    synchronized (writeLock) {
      out = new BufferedOutputStream(s.getOutputStream(), 64 * 1024);
    }
    write(new Connect(clientId, true, keepAliveSeconds));
    MqttPacket first = MqttCodec.read(in, maxPacketBytes);
    if (!(first instanceof ConnAck ack)) {
      throw new MalformedPacketException("the broker answered CONNECT with " + first + ", not CONNACK");
    }
    if (ack.returnCode() != 0) {
      throw new IOException("the broker refused the connection (CONNACK return code " + ack.returnCode() + ")");
    }
    write(new Subscribe(1, List.of(new Subscription(subscription, 1))));
    Thread pinger = new Thread(this::ping, "tether-relay-ping");
    pinger.setDaemon(true);
    pinger.start();
    try {
      while (!closed) {
        MqttPacket p = MqttCodec.read(in, maxPacketBytes);
        if (p == null) {
          return;
        }
        if (p instanceof Publish pub) {
          if (pub.qos() == 1) {
            write(new PubAck(pub.packetId()));
          } else if (pub.qos() == 2) {
            throw new MalformedPacketException("the broker sent QoS 2 on a QoS 1 subscription");
          }
          handler.message(pub.topic(), pub.payload());
        } else if (p instanceof PubAck a) {
          if (!inFlight.remove(a.packetId())) {
            throw new MalformedPacketException("PUBACK for packet id " + a.packetId() + ", which is not in flight");
          }
        } else if (p instanceof SubAck a) {
          if (a.packetId() != 1 || a.returnCodes().size() != 1) {
            throw new MalformedPacketException("unexpected SUBACK " + a);
          }
          if (a.returnCodes().get(0) == 0x80) {
            throw new IOException("the broker refused the subscription to " + subscription);
          }
          if (!connected) {
            connected = true;
            lastError = null;
            log.info("connected to the MQTT broker {}:{}", broker.getHostString(), broker.getPort());
            handler.connected();
          }
        } else if (!(p instanceof PingResp)) {
          throw new MalformedPacketException("unexpected " + p.getClass().getSimpleName() + " from the broker");
        }
      }
    } finally {
      pinger.interrupt();
    }
  }

  private void ping() {
    long interval = keepAliveSeconds * 500L;
    while (!closed) {
      try {
        Thread.sleep(interval);
        write(new PingReq());
      } catch (InterruptedException | IOException e) {
        return;
      }
    }
  }

  private void closeSocket() {
    Socket s = socket;
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      if (connected) {
        write(new Disconnect());
      }
    } catch (IOException ignored) {
      // the connection is going anyway
    }
    closeSocket();
    thread.interrupt();
  }
}
