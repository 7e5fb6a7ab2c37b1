package dev.tether.tests.support;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

import static org.awaitility.Awaitility.await;

/**
 * Two real tetherd processes paired over loopback: {@link #primary} listens, {@link #companion} connects through a
 * {@link TcpFaultProxy}, so the companion's link to the primary can be cut.
 */
public final class PairedDaemons implements AutoCloseable {
  public final DaemonProcess primary;
  public final DaemonProcess companion;
  public final TcpFaultProxy proxy;

  private PairedDaemons(DaemonProcess primary, DaemonProcess companion, TcpFaultProxy proxy) {
    this.primary = primary;
    this.companion = companion;
    this.proxy = proxy;
  }

  /**
   * Two daemons paired through a fault proxy; {@code jvmOptions} apply to both, at every (re)start. The companion
   * dials again at least every 500 ms (tetherd's default back-off grows to 5 s, plus jitter), so a test that cut the
   * link or restarted the primary does not wait seconds for the next dial; {@code -Dtether.link.maxBackoffMillis}
   * in {@code jvmOptions} overrides it.
   */
  public static PairedDaemons start(Path dir, String... jvmOptions) throws IOException {
    String[] options = new String[jvmOptions.length + 1];
    options[0] = "-Dtether.link.maxBackoffMillis=500";
    System.arraycopy(jvmOptions, 0, options, 1, jvmOptions.length);
    DaemonProcess p = DaemonProcess.start(dir.resolve("primary"), options);
    DaemonProcess c = DaemonProcess.start(dir.resolve("companion"), options);
    ObjectNode offer;
    try (DaemonClient pc = p.client("dev.tether.cli")) {
      ObjectNode b = Json.object();
      b.put("host", "127.0.0.1");
      offer = pc.call("cx.pair.listen", b);
    }
    int port = Integer.parseInt(offer.path("address").asText().split(":")[1]);
    TcpFaultProxy proxy = new TcpFaultProxy(port);
    try (DaemonClient cc = c.client("dev.tether.cli")) {
      ObjectNode b = Json.object();
      b.put("address", proxy.address());
      b.put("code", offer.path("code").asText());
      cc.call("cx.pair.connect", b);
    }
    PairedDaemons d = new PairedDaemons(p, c, proxy);
    d.awaitLinked();
    return d;
  }

  public static boolean connected(DaemonProcess d) {
    try (DaemonClient c = d.client("dev.tether.cli")) {
      var peers = c.call("cx.peers", Json.object()).path("peers");
      return peers.size() == 1 && peers.get(0).path("connected").asBoolean();
    }
  }

  public void awaitLinked() {
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> connected(primary) && connected(companion));
  }

  @Override
  public void close() throws IOException {
    proxy.close();
    primary.close();
    companion.close();
  }
}
