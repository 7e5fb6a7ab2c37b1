package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.TetherAccess;
import dev.tether.protocol.Frame;
import dev.tether.protocol.FrameCodec;
import dev.tether.protocol.Json;
import dev.tether.protocol.TetherPaths;
import dev.tether.protocol.ChannelStreams;
import dev.tether.tests.support.DaemonProcess;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonLifecycleTest {
  @TempDir Path tmp;

  @Test
  void daemonIsItsOwnProcessWithAPrivateSocket() throws Exception {
    Path home = tmp.resolve("home");
    try (DaemonProcess d = DaemonProcess.start(home); DaemonClient c = d.client("com.example.a")) {
      assertThat(d.pid()).isNotEqualTo(ProcessHandle.current().pid());
      assertThat(c.welcome().path("pid").asLong()).isEqualTo(d.pid());
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(TetherPaths.socket(home)))).isEqualTo("rw-------");
      var status = c.call("daemon.status", Json.object());
      assertThat(status.path("running").asBoolean()).isTrue();
      assertThat(status.path("home").asText()).isEqualTo(home.toString());
    }
  }

  @Test
  void secondDaemonOnTheSameHomeRefusesToStart() throws Exception {
    Path home = tmp.resolve("home");
    try (DaemonProcess d = DaemonProcess.start(home)) {
      var pb = new ProcessBuilder(dev.tether.tests.support.JavaProcesses.javaCommand("dev.tether.daemon.Tetherd", "--home", home.toString()));
      pb.redirectErrorStream(true);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes());
      assertThat(p.waitFor()).isEqualTo(1);
      assertThat(out).contains("already running").contains(Long.toString(d.pid()));
      assertThat(d.isAlive()).isTrue();
    }
  }

  @Test
  void clientLibraryStartsTheDaemonWhenNoneRuns() throws Exception {
    Path home = tmp.resolve("auto");
    try (Tether t = Tether.connect("com.example.auto", TetherOptions.defaults().home(home))) {
      long pid = TetherAccess.client(t).welcome().path("pid").asLong();
      assertThat(pid).isNotEqualTo(ProcessHandle.current().pid());
      assertThat(ProcessHandle.of(pid)).isPresent();
      TetherAccess.client(t).call("daemon.stop", Json.object());
      ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
    }
  }

  @Test
  void withoutAutostartAMissingDaemonIsAClearError() {
    Path home = tmp.resolve("none");
    assertThatThrownBy(() -> Tether.connect("com.example.a", TetherOptions.defaults().home(home).startDaemon(false)))
        .isInstanceOfSatisfying(TetherException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.DAEMON_UNAVAILABLE);
          assertThat(e.getMessage()).contains("not running").contains("daemon start");
        });
  }

  @Test
  void otherProtocolVersionGetsAClearErrorNotAHang() throws Exception {
    Path home = tmp.resolve("home");
    try (DaemonProcess d = DaemonProcess.start(home);
         SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(TetherPaths.socket(home)));
      FrameCodec codec = new FrameCodec();
      OutputStream out = ChannelStreams.output(ch);
      var hello = Json.object();
      hello.put("protocol", 99);
      hello.put("appId", "com.example.old");
      codec.write(out, new Frame("hello", 1, hello));
      Frame answer = codec.read(new DataInputStream(ChannelStreams.input(ch)));
      assertThat(answer.type()).isEqualTo(Frame.ERROR);
      assertThat(answer.text("code")).isEqualTo("PROTOCOL_MISMATCH");
      assertThat(answer.text("message")).contains("99").contains("1");
      assertThat(codec.read(new DataInputStream(ChannelStreams.input(ch)))).isNull();
    }
  }

  @Test
  void corruptFrameIsRefusedAndTheDaemonStaysUp() throws Exception {
    Path home = tmp.resolve("home");
    try (DaemonProcess d = DaemonProcess.start(home)) {
      try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        ch.connect(UnixDomainSocketAddress.of(TetherPaths.socket(home)));
        OutputStream out = ChannelStreams.output(ch);
        out.write(new byte[] {0, 0, 0, 5, '{', 'x', 'x', 'x', '}'});
        Frame answer = new FrameCodec().read(new DataInputStream(ChannelStreams.input(ch)));
        assertThat(answer.type()).isEqualTo(Frame.ERROR);
        assertThat(answer.text("code")).isEqualTo("CORRUPT_FRAME");
      }
      try (DaemonClient c = d.client("com.example.a")) {
        assertThat(c.call("daemon.status", Json.object()).path("running").asBoolean()).isTrue();
      }
    }
  }

  @Test
  void unknownOperationIsATypedError() throws Exception {
    try (DaemonProcess d = DaemonProcess.start(tmp.resolve("home")); DaemonClient c = d.client("com.example.a")) {
      assertThatThrownBy(() -> c.call("no.such.thing", Json.object()))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_OPERATION));
    }
  }

  @Test
  void invalidAppIdIsRefused() throws Exception {
    try (DaemonProcess d = DaemonProcess.start(tmp.resolve("home"))) {
      assertThatThrownBy(() -> d.client("not an id!"))
          .isInstanceOfSatisfying(TetherException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
            assertThat(e.getMessage()).contains("reverse-DNS");
          });
    }
  }
}
