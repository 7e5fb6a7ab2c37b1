package dev.tether.daemon.internal.relay;

import dev.tether.daemon.internal.Threads;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.IntSupplier;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Byte streams between paired daemons through a standard MQTT broker, for pairs that cannot reach each other directly.
 *
 * <p>A stream from daemon A to daemon B travels on topic {@code tether/v1/<B's fingerprint>/<A's fingerprint>/<stream
 * id>} and the reverse direction on {@code tether/v1/<A>/<B>/<stream id>}; each daemon subscribes to {@code
 * tether/v1/<own fingerprint>/#}. A message is one type byte (OPEN, DATA, ACK, CLOSE), an 8-byte sequence number
 * (per stream and direction, from 0, over every message) and the bytes: DATA carries up to {@link #CHUNK} bytes, ACK
 * the total number of bytes the receiver has written so far. A sender keeps at most {@link #WINDOW} bytes
 * unacknowledged; the receiver acknowledges as it writes. Messages are handled in sequence: one whose number was
 * already received is a QoS 1 redelivery and is dropped, one that arrives early waits for the missing ones (bounded);
 * a gap beyond that bound, an ACK that does not fit, too much data or a message for an unknown stream closes the
 * stream (the link above reconnects and resumes); losing the broker closes every stream.
 *
 * <p>The tunnel carries only what the link layer writes into it, which is TLS: {@link #open} gives the connecting
 * side a plain socket on loopback that the pinned mutual TLS is layered over; on the accepting side an OPEN from a
 * paired peer becomes a plain connection to this daemon's own link port. The broker (and anyone else on it) sees TLS
 * records only and cannot complete a handshake without a pinned key.
 */
public final class RelayTunnel implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RelayTunnel.class);
  /** The largest DATA payload; the broker must accept messages of this size plus a few hundred bytes. */
  public static final int CHUNK = 32 * 1024;
  /** The most bytes a stream direction has unacknowledged. */
  public static final long WINDOW = 8L * 1024 * 1024;
  static final byte OPEN = 1;
  static final byte DATA = 2;
  static final byte ACK = 3;
  static final byte CLOSE = 4;
  /** The sequence number of a CLOSE answering a message for a stream the sender does not know. */
  static final long UNSEQUENCED = -1;
  /** The most messages kept while waiting for a missing one. */
  static final int MAX_AHEAD = 512;
  private static final String PREFIX = "tether/v1/";
  private static final Pattern FINGERPRINT = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern STREAM_ID = Pattern.compile("[0-9a-f]{32}");
  private static final byte[] END = new byte[0];
  private static final SecureRandom RANDOM = new SecureRandom();

  private final RelayBroker broker;
  private final String self;
  private final Predicate<String> paired;
  private final IntSupplier linkPort;
  private final MqttClient client;
  private final Map<String, Stream> streams = new ConcurrentHashMap<>();
  private final Set<Integer> bridgePorts = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /**
   * A tunnel through {@code broker} for the daemon with fingerprint {@code self}; {@code paired} says which peers may
   * open streams, {@code linkPort} is this daemon's own link port.
   */
  public RelayTunnel(RelayBroker broker, String self, Predicate<String> paired, IntSupplier linkPort) {
    this.broker = broker;
    this.self = self;
    this.paired = paired;
    this.linkPort = linkPort;
    this.client = new MqttClient(broker, "tether-" + self.substring(0, 16), PREFIX + self + "/#", 30,
        CHUNK + 4096, new MqttClient.Handler() {
          @Override
          public void message(String topic, byte[] payload) {
            received(topic, payload);
          }

          @Override
          public void connected() {
            // streams are opened on demand
          }

          @Override
          public void disconnected(String reason) {
            for (Stream s : List.copyOf(streams.values())) {
              s.close(false, "the MQTT broker connection ended: " + reason);
            }
          }
        });
  }

  public void start() {
    client.start();
  }

  /** The configured broker. */
  public RelayBroker broker() {
    return broker;
  }

  public boolean isConnected() {
    return client.isConnected();
  }

  /** Why the broker connection last failed or ended; null when it has not. */
  public String lastError() {
    return client.lastError();
  }

  /** When {@link #lastError} happened; null when it has not. */
  public java.time.Instant lastErrorAt() {
    return client.lastErrorAt();
  }

  /** The number of open streams. */
  public int streams() {
    return streams.size();
  }

  /** True when {@code remotePort} is the loopback port of a bridge this tunnel connected to the link port. */
  public boolean isBridge(int remotePort) {
    return bridgePorts.contains(remotePort);
  }

  /**
   * Opens a stream to {@code peer}: returns a plain socket on loopback whose bytes go to the peer's link port, and back.
   */
  public Socket open(String peer) throws IOException {
    if (!client.isConnected()) {
      throw new IOException("the relay is not connected to its MQTT broker " + broker.uri()
          + (lastError() == null ? "" : " (" + lastError() + ")"));
    }
    byte[] idBytes = new byte[16];
    RANDOM.nextBytes(idBytes);
    String id = HexFormat.of().formatHex(idBytes);
    InetAddress loopback = InetAddress.getLoopbackAddress();
    Socket app = new Socket();
    Socket bridge;
    try (ServerSocket ss = new ServerSocket(0, 1, loopback)) {
      ss.setSoTimeout(5_000);
      app.connect(new InetSocketAddress(loopback, ss.getLocalPort()), 5_000);
      bridge = ss.accept();
    } catch (IOException e) {
      app.close();
      throw e;
    }
    bridge.setTcpNoDelay(true);
    app.setTcpNoDelay(true);
    Stream s = new Stream(peer, id, bridge);
    streams.put(s.key, s);
    try {
      s.send(OPEN, new byte[0]);
    } catch (IOException e) {
      s.close(false, "sending OPEN failed: " + e.getMessage());
      app.close();
      throw e;
    }
    s.startPumps();
    return app;
  }

  private void received(String topic, byte[] payload) {
    if (closed) {
      return;
    }
    String[] parts = topic.substring(Math.min(topic.length(), PREFIX.length())).split("/", -1);
    if (!topic.startsWith(PREFIX) || parts.length != 3 || !parts[0].equals(self) || !FINGERPRINT.matcher(parts[1]).matches()
        || !STREAM_ID.matcher(parts[2]).matches()) {
      log.warn("relay: ignoring a message on unexpected topic {}", topic);
      return;
    }
    String peer = parts[1];
    String key = peer + "/" + parts[2];
    Stream s = streams.get(key);
    if (payload.length < 9 || payload[0] < OPEN || payload[0] > CLOSE) {
      if (s != null) {
        s.close(true, "malformed relay message (" + payload.length + " bytes, type " + (payload.length > 0 ? payload[0] : -1) + ")");
      }
      return;
    }
    byte type = payload[0];
    long seq = ByteBuffer.wrap(payload, 1, 8).getLong();
    if (s == null) {
      if (type == OPEN && seq == 0) {
        if (!paired.test(peer)) {
          log.warn("relay: refused a stream from {}, which is not a paired peer", peer);
          replyClose(peer, parts[2]);
          return;
        }
        Stream accepted = new Stream(peer, parts[2], null);
        accepted.recvSeq = 1;
        streams.put(key, accepted);
        accepted.startAccepted();
      } else if (type != CLOSE) {
        replyClose(peer, parts[2]);
      }
      return;
    }
    s.receive(type, seq, payload);
  }

  private void replyClose(String peer, String id) {
    try {
      client.publish(PREFIX + peer + "/" + self + "/" + id, message(CLOSE, UNSEQUENCED, new byte[0], 0, 0));
    } catch (IOException e) {
      log.debug("relay: cannot refuse stream {}: {}", id, e.toString());
    }
  }

  static byte[] message(byte type, long seq, byte[] data, int off, int len) {
    ByteBuffer b = ByteBuffer.allocate(9 + len);
    b.put(type).putLong(seq).put(data, off, len);
    return b.array();
  }

  private final class Stream {
    final String peer;
    final String id;
    final String key;
    final String outTopic;
    final Object sendLock = new Object();
    final LinkedBlockingQueue<byte[]> inbound = new LinkedBlockingQueue<>();
    volatile Socket local;
    long sendSeq;
    long recvSeq;
    long sent;
    long acked;
    long receivedBytes;
    volatile long written;
    /** Messages that arrived ahead of a missing one, by sequence number (MQTT reading thread only). */
    final java.util.TreeMap<Long, byte[]> ahead = new java.util.TreeMap<>();
    long aheadBytes;
    volatile boolean done;

    Stream(String peer, String id, Socket local) {
      this.peer = peer;
      this.id = id;
      this.key = peer + "/" + id;
      this.outTopic = PREFIX + peer + "/" + self + "/" + id;
      this.local = local;
    }

    void send(byte type, byte[] data) throws IOException {
      send(type, data, 0, data.length);
    }

    void send(byte type, byte[] data, int off, int len) throws IOException {
      synchronized (sendLock) {
        client.publish(outTopic, message(type, sendSeq, data, off, len));
        sendSeq++;
      }
    }

    void startPumps() {
      Threads.start("tether-relay-out-" + id.substring(0, 8), this::pumpOut);
      Threads.start("tether-relay-in-" + id.substring(0, 8), this::pumpIn);
    }

    void startAccepted() {
      Threads.start("tether-relay-accept-" + id.substring(0, 8), () -> {
        Socket s = new Socket();
        try {
          s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), linkPort.getAsInt()), 5_000);
          s.setTcpNoDelay(true);
        } catch (IOException e) {
          close(true, "cannot reach this daemon's own link port: " + e.getMessage());
          try {
            s.close();
          } catch (IOException ignored) {
            // failed anyway
          }
          return;
        }
        bridgePorts.add(s.getLocalPort());
        local = s;
        if (done) {
          closeLocal();
          return;
        }
        log.debug("relay: stream {} from peer {} accepted", id, peer);
        startPumps();
      });
    }

    private void pumpOut() {
      byte[] buf = new byte[CHUNK];
      try {
        InputStream in = local.getInputStream();
        while (!done) {
          int n = in.read(buf);
          if (n < 0) {
            close(true, null);
            return;
          }
          synchronized (this) {
            while (!done && sent - acked + n > WINDOW) {
              wait();
            }
            if (done) {
              return;
            }
            sent += n;
          }
          send(DATA, buf, 0, n);
        }
      } catch (IOException e) {
        close(true, done ? null : "reading the local side failed: " + e.getMessage());
      } catch (InterruptedException e) {
        close(true, "interrupted");
      }
    }

    private void pumpIn() {
      try {
        OutputStream out = local.getOutputStream();
        byte[] ack = new byte[8];
        long told = 0;
        while (true) {
          byte[] chunk = inbound.take();
          if (chunk == END) {
            close(false, null);
            return;
          }
          out.write(chunk);
          written += chunk.length;
          // acknowledge when caught up, and every quarter window while data keeps coming: waiting for an empty queue
          // alone let the sender fill its window and stall until this side had drained it (stop and go)
          if (inbound.isEmpty() || written - told >= WINDOW / 4) {
            out.flush();
            ByteBuffer.wrap(ack).putLong(written);
            send(ACK, ack);
            told = written;
          }
        }
      } catch (IOException e) {
        close(true, done ? null : "writing the local side failed: " + e.getMessage());
      } catch (InterruptedException e) {
        close(true, "interrupted");
      }
    }

    /**
     * A message for this stream from the MQTT reading thread. Messages are handled strictly in sequence; one that
     * arrives ahead of a missing one waits (some brokers, Moquette among them, can reorder a subscriber's QoS 1
     * deliveries), up to {@link #MAX_AHEAD} messages or a window's worth of bytes, beyond which the gap closes the stream.
     */
    void receive(byte type, long seq, byte[] payload) {
      if (type == CLOSE && seq == UNSEQUENCED) {
        // the peer has no such stream (or refused it)
        inbound.add(END);
        return;
      }
      if (seq < recvSeq || ahead.containsKey(seq)) {
        // QoS 1 is at least once: a broker that missed a PUBACK in time delivers the message again
        log.debug("relay: stream {} dropped a repeated message {} ({} was due)", id, seq, recvSeq);
        return;
      }
      if (seq > recvSeq) {
        if (ahead.size() >= MAX_AHEAD || aheadBytes + payload.length > WINDOW) {
          close(true, "a gap in the relay stream (message " + recvSeq + " missing, " + ahead.size() + " later ones waiting)");
          return;
        }
        ahead.put(seq, payload);
        aheadBytes += payload.length;
        return;
      }
      handle(type, payload);
      recvSeq++;
      byte[] next;
      while (!done && (next = ahead.remove(recvSeq)) != null) {
        aheadBytes -= next.length;
        handle(next[0], next);
        recvSeq++;
      }
    }

    private void handle(byte type, byte[] payload) {
      int len = payload.length - 9;
      switch (type) {
        case DATA -> {
          if (len == 0 || len > CHUNK) {
            close(true, "a DATA message of " + len + " bytes");
            return;
          }
          receivedBytes += len;
          if (receivedBytes - written > WINDOW) {
            close(true, "the peer sent more than the window of " + WINDOW + " bytes unacknowledged");
            return;
          }
          byte[] chunk = new byte[len];
          System.arraycopy(payload, 9, chunk, 0, len);
          inbound.add(chunk);
        }
        case ACK -> {
          long total = len == 8 ? ByteBuffer.wrap(payload, 9, 8).getLong() : -1;
          synchronized (this) {
            if (total < acked || total > sent) {
              close(true, "an ACK of " + total + " bytes (sent " + sent + ", acknowledged " + acked + ")");
              return;
            }
            acked = total;
            notifyAll();
          }
        }
        case CLOSE -> inbound.add(END);
        default -> close(true, "a second OPEN");
      }
    }

    void close(boolean tellPeer, String why) {
      synchronized (this) {
        if (done) {
          return;
        }
        done = true;
        notifyAll();
      }
      streams.remove(key, this);
      if (why != null) {
        log.info("relay: stream {} with peer {} closed: {}", id, peer, why);
      }
      if (tellPeer) {
        try {
          send(CLOSE, new byte[0]);
        } catch (IOException e) {
          log.debug("relay: cannot tell the peer that stream {} closed: {}", id, e.toString());
        }
      }
      inbound.clear();
      inbound.add(END);
      closeLocal();
    }

    void closeLocal() {
      Socket s = local;
      if (s != null) {
        bridgePorts.remove(s.getLocalPort());
        try {
          s.close();
        } catch (IOException ignored) {
          // closing anyway
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    for (Stream s : List.copyOf(streams.values())) {
      s.close(true, null);
    }
    client.close();
  }
}
