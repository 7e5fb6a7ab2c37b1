package dev.tether.daemon.internal.ipc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.Protocol;
import dev.tether.protocol.TetherPaths;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's socket server against the real client over a real Unix domain socket. */
class IpcServerTest {
  @TempDir Path home;

  @Test
  void anAnswerTooLargeForOneFrameReachesItsCallerAsAnErrorAtOnceAndTheConnectionGoesOn() throws Exception {
    IpcServer ipc = new IpcServer(TetherPaths.socket(home), Files.getOwner(home), () -> {
      ObjectNode w = Json.object();
      w.put("protocol", Protocol.VERSION);
      return w;
    });
    ipc.register("test.big", (c, b) -> {
      ObjectNode r = Json.object();
      r.put("text", "x".repeat(17 * 1024 * 1024));
      return CompletableFuture.completedFuture(r);
    });
    ipc.register("test.small", (c, b) -> CompletableFuture.completedFuture(Json.object().put("ok", true)));
    ipc.start();
    try (DaemonClient client = DaemonClient.connect(home, "com.example.big", Json.object(), false)) {
      long start = System.nanoTime();
      // before, the answer was dropped and the call waited for its 60 s timeout
      assertThatThrownBy(() -> client.call("test.big", Json.object())).isInstanceOfSatisfying(TetherException.class, e -> {
        assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
        assertThat(e.getMessage()).contains("frame limit");
      });
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(20));
      assertThat(client.call("test.small", Json.object()).path("ok").asBoolean()).isTrue();
    } finally {
      ipc.close();
    }
  }
}
