package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;

/** What a URL that can never be fetched and a failed connection are called (issue 15, item 7). */
class HttpAttemptTextTest {
  @Test
  void aPortOutsideOneTo65535IsAProblem() {
    assertThat(HttpAttempt.urlProblem(URI.create("http://127.0.0.1:99999/x"), false))
        .isEqualTo("URL 'http://127.0.0.1:99999/x' has port 99999; a port is from 1 to 65535");
    assertThat(HttpAttempt.urlProblem(URI.create("http://127.0.0.1:0/x"), false)).contains("port 0");
    assertThat(HttpAttempt.urlProblem(URI.create("http://127.0.0.1:99999999999/x"), false))
        .contains("is not host:port with a port from 1 to 65535");
    assertThat(HttpAttempt.urlProblem(URI.create("http://127.0.0.1:65535/x"), false)).isNull();
    assertThat(HttpAttempt.urlProblem(URI.create("http://127.0.0.1/x"), false)).isNull();
  }

  @Test
  void connectionFailuresSayWhatHappenedAndWhere() {
    URI u = URI.create("http://example.test:8080/x");
    assertThat(HttpAttempt.transportProblem(new ConnectException("Connection refused"), u))
        .isEqualTo("connection refused by example.test:8080");
    assertThat(HttpAttempt.transportProblem(new UnknownHostException("example.test: Name or service not known"), u))
        .isEqualTo("host not found: example.test");
    assertThat(HttpAttempt.transportProblem(new ConnectException("Connection refused"), URI.create("https://h.test/x")))
        .isEqualTo("connection refused by h.test:443");
    assertThat(HttpAttempt.transportProblem(new IOException("boom"), u)).isEqualTo("IOException: boom");
  }
}
