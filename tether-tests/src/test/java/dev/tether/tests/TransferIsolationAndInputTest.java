package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.DownloadTransfer;
import dev.tether.ErrorCode;
import dev.tether.SessionConfiguration;
import dev.tether.Tether;
import dev.tether.TetherException;
import dev.tether.TetherOptions;
import dev.tether.UrlSession;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.TetherAccess;
import dev.tether.protocol.Json;
import dev.tether.tests.support.DaemonProcess;
import dev.tether.tests.support.RecordingDelegate;
import dev.tether.tests.support.TestHttpServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Apps cannot see or touch each other's sessions; bad input gets typed errors and harms nothing. */
class TransferIsolationAndInputTest {
  static final long MIB = 1024 * 1024;
  @TempDir static Path tmp;
  static DaemonProcess daemon;
  static TestHttpServer server;

  @BeforeAll
  static void start() throws Exception {
    daemon = DaemonProcess.start(tmp.resolve("home"));
    server = new TestHttpServer();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    daemon.close();
  }

  static Tether app(String id) {
    return Tether.connect(id, TetherOptions.defaults().home(daemon.home()).startDaemon(false));
  }

  static ObjectNode body(Object... kv) {
    ObjectNode o = Json.object();
    for (int i = 0; i < kv.length; i += 2) {
      o.set((String) kv[i], Json.mapper().valueToTree(kv[i + 1]));
    }
    return o;
  }

  @Test
  void twoAppsCannotSeeOrTouchEachOthersSessions() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    server.file("/private.bin", 4 * MIB, 41).fault(new TestHttpServer.PauseAfter(MIB, gate));
    RecordingDelegate aEvents = new RecordingDelegate();
    RecordingDelegate bEvents = new RecordingDelegate();
    try (Tether a = app("com.example.alpha"); Tether b = app("com.example.beta")) {
      UrlSession aSession = a.urlSession(SessionConfiguration.background("shared-name").build(), aEvents);
      DownloadTransfer t = aSession.download(server.url("/private.bin")).description("alpha's").start();
      UrlSession bSession = b.urlSession(SessionConfiguration.background("shared-name").build(), bEvents);
      assertThat(bSession.allTransfers()).isEmpty();

      DaemonClient bc = TetherAccess.client(b);
      for (String op : new String[] {"transfer.get", "transfer.cancel", "transfer.suspend", "transfer.resume"}) {
        assertThatThrownBy(() -> bc.call(op, body("id", t.id())))
            .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_TRANSFER));
      }
      assertThatThrownBy(() -> bc.call("transfer.list", body("allApps", true)))
          .isInstanceOfSatisfying(TetherException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED));
      // acknowledging alpha's events from beta does nothing
      bc.call("transfer.ack", body("session", "shared-name", "seq", 1));
      assertThatThrownBy(() -> bc.call("transfer.download", body("session", "alpha-only", "url", server.url("/private.bin").toString())))
          .isInstanceOfSatisfying(TetherException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_SESSION);
            assertThat(e.getMessage()).contains("alpha-only");
          });

      gate.countDown();
      assertThat(aEvents.completion(t.id()).get(30, TimeUnit.SECONDS)).isEmpty();
      await().atMost(Duration.ofSeconds(10)).until(() -> aEvents.calls("eventsFinished").size() == 1);
      assertThat(bEvents.calls()).isEmpty();
      assertThat(aEvents.calls("downloadFinished")).hasSize(1);
    }
  }

  @Test
  void badInputGetsTypedErrorsAndHarmsNothingElse() throws Exception {
    server.file("/fine.bin", MIB, 42);
    RecordingDelegate d = new RecordingDelegate();
    try (Tether t = app("com.example.careless")) {
      UrlSession s = t.urlSession(SessionConfiguration.background("input").build(), d);
      DaemonClient c = TetherAccess.client(t);
      expect(() -> c.call("transfer.download", body("session", "never-opened", "url", server.url("/fine.bin").toString())),
          ErrorCode.UNKNOWN_SESSION, "never-opened");
      expect(() -> c.call("transfer.get", body("id", 987654)), ErrorCode.UNKNOWN_TRANSFER, "987654");
      expect(() -> c.call("transfer.get", body("id", "seven")), ErrorCode.INVALID_PARAMETER, "id");
      expect(() -> s.download(URI.create("/relative/path")).start(), ErrorCode.INVALID_URL, "not absolute");
      expect(() -> s.download(URI.create("ftp://127.0.0.1/file")).start(), ErrorCode.INVALID_URL, "ftp");
      expect(() -> s.download(URI.create("http://example.com/file")).start(), ErrorCode.INVALID_URL, "allowsPlainHttp");
      expect(() -> c.call("transfer.download", body("session", "input", "url", "http://[bad")), ErrorCode.INVALID_URL, "not a valid URL");
      expect(() -> s.upload(tmp.resolve("missing.txt"), server.url("/up")).start(), ErrorCode.FILE_NOT_FOUND, "missing.txt");
      Path file = Files.writeString(tmp.resolve("up.txt"), "hello");
      expect(() -> s.upload(file, server.url("/up")).method("DELETE").start(), ErrorCode.INVALID_PARAMETER, "PUT or POST");
      expect(() -> s.download(server.url("/fine.bin")).destination(tmp.resolve("no/such/folder/out.bin")).start(),
          ErrorCode.FILE_ACCESS_DENIED, "does not exist");
      expect(() -> s.download(server.url("/fine.bin")).destination(tmp).start(), ErrorCode.FILE_ACCESS_DENIED, "is a directory");
      expect(() -> s.downloadWithResumeData("not resume data".getBytes()), ErrorCode.INVALID_PARAMETER, "resume data");
      expect(() -> c.call("transfer.session.open", body("session", "x", "configuration", body("maxConnectionsPerHost", 0))),
          ErrorCode.INVALID_PARAMETER, "maxConnectionsPerHost");

      assertThat(s.allTransfers()).isEmpty(); // nothing half-created
      DownloadTransfer ok = s.download(server.url("/fine.bin")).start();
      assertThat(d.completion(ok.id()).get(30, TimeUnit.SECONDS)).isEmpty();
      assertThat(s.allTransfers()).hasSize(1);
      // operations on a completed transfer are refused with INVALID_STATE
      expect(ok::cancel, ErrorCode.INVALID_STATE, "completed");
    }
  }

  static void expect(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, ErrorCode code, String mentions) {
    assertThatThrownBy(call).isInstanceOfSatisfying(TetherException.class, e -> {
      assertThat(e.code()).isEqualTo(code);
      assertThat(e.getMessage()).contains(mentions);
    });
  }
}
