package dev.tether.daemon.internal.link;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A peer link over real pinned TLS 1.3 on loopback: attachments arrive raw; a corrupt attachment length ends the link. */
class PeerLinkTest {
  @TempDir Path tmp;
  final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    timers.shutdownNow();
  }

  @Test
  void anAttachmentArrivesRawAndAFrameAnnouncingAnImpossibleAttachmentClosesTheLinkUnhandled() throws Exception {
    Identity a = Identity.loadOrCreate(tmp.resolve("a"));
    Identity b = Identity.loadOrCreate(tmp.resolve("b"));
    List<Frame> frames = new CopyOnWriteArrayList<>();
    List<byte[]> attachments = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> closed = new CompletableFuture<>();
    try (SSLServerSocket server = (SSLServerSocket) PinnedTls.context(a, fp -> fp.equals(b.fingerprint()))
        .getServerSocketFactory().createServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
      server.setNeedClientAuth(true);
      PinnedTls.configure(server);
      CompletableFuture<PeerLink> link = CompletableFuture.supplyAsync(() -> {
        try {
          SSLSocket s = (SSLSocket) server.accept();
          s.startHandshake();
          PeerLink l = new PeerLink(s, FrameCodec.input(s.getInputStream()), b.fingerprint(), new PeerLink.Handler() {
            @Override
            public void frame(PeerLink link, Frame frame, byte[] attachment) {
              frames.add(frame);
              attachments.add(attachment);
            }

            @Override
            public void closed(PeerLink link) {
              closed.complete(null);
            }
          }, timers, 60_000, 120_000);
          l.startReading();
          return l;
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      try (SSLSocket c = (SSLSocket) PinnedTls.context(b, fp -> fp.equals(a.fingerprint())).getSocketFactory()
          .createSocket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
        PinnedTls.configure(c);
        c.startHandshake();
        assertThat(c.getSession().getCipherSuite()).isEqualTo("TLS_AES_128_GCM_SHA256");
        OutputStream out = c.getOutputStream();
        FrameCodec codec = new FrameCodec();
        ObjectNode ok = Json.object();
        ok.put("attach", 5);
        out.write(codec.encode(new Frame("file.chunk", 0, ok)));
        out.write(new byte[] {1, 2, 3, 4, 5});
        ObjectNode corrupt = Json.object();
        corrupt.put("attach", 5L * Integer.MAX_VALUE);
        out.write(codec.encode(new Frame("file.chunk", 0, corrupt)));
        out.write(new byte[64]);
        out.write(codec.encode(new Frame("after", 0, Json.object())));
        out.flush();
        closed.get(30, TimeUnit.SECONDS);
      }
      assertThat(link.get(30, TimeUnit.SECONDS).isOpen()).isFalse();
      assertThat(frames).extracting(Frame::type).containsExactly("file.chunk");
      assertThat(attachments.get(0)).containsExactly(1, 2, 3, 4, 5);
    }
  }
}
