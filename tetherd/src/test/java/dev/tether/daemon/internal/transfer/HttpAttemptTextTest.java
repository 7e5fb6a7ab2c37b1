package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.api.Test;

/** A URL that can never be fetched is a problem (issue 15, item 7). */
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
}
