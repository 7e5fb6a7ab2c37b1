package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.tests.support.JavaProcesses;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tetherd serves only its own OS user. The socket's mode (0600) stops other users at connect; root is not stopped by
 * file modes, so this test runs tetherd as {@code nobody} and connects as root: SO_PEERCRED must refuse it.
 */
class PeerCredentialsTest {
  @TempDir Path tmp;

  @Test
  void aClientOfAnotherOsUserIsRefused() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/bin/setpriv")),
        "needs root and setpriv to run the daemon as another user");
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    // The daemon as nobody cannot read root's ~/.m2: give it a world-readable copy of the class path.
    Path libs = Files.createDirectory(tmp.resolve("libs"));
    List<String> cp = new ArrayList<>();
    int i = 0;
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path src = Path.of(entry);
      if (!Files.exists(src)) {
        continue;
      }
      Path dst = libs.resolve((i++) + "-" + src.getFileName());
      if (Files.isDirectory(src)) {
        try (Stream<Path> walk = Files.walk(src)) {
          for (Path p : (Iterable<Path>) walk::iterator) {
            Path t = dst.resolve(src.relativize(p).toString());
            if (Files.isDirectory(p)) {
              Files.createDirectories(t);
            } else {
              Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
            }
          }
        }
      } else {
        Files.copy(src, dst);
      }
      cp.add(dst.toString());
    }
    try (Stream<Path> walk = Files.walk(libs)) {
      walk.forEach(p -> p.toFile().setReadable(true, false));
    }
    Path home = tmp.resolve("home");
    Files.createDirectory(home);
    UserPrincipal nobody = home.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
    Files.setOwner(home, nobody);
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
        JavaProcesses.java(), "-cp", String.join(File.pathSeparator, cp), "dev.tether.daemon.Tetherd", "--home", home.toString()));
    Process daemon = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("daemon.out").toFile()).start();
    try {
      // tetherd prints its "running" line once every service started and the socket accepts connections
      Awaitility.await().atMost(Duration.ofSeconds(90)).until(() -> !daemon.isAlive()
          || Files.readString(tmp.resolve("daemon.out")).contains("running, home"));
      assertThat(daemon.isAlive()).as(Files.readString(tmp.resolve("daemon.out"))).isTrue();
      assertThatThrownBy(() -> DaemonClient.connect(home, "com.example.intruder", Json.object(), false))
          .isInstanceOfSatisfying(TetherException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED);
            assertThat(e.getMessage()).contains("nobody").contains("root");
          });
      assertThat(daemon.isAlive()).isTrue();
    } finally {
      daemon.destroy();
      daemon.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
