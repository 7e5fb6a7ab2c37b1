package dev.tether.daemon.internal.link;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.security.cert.CertificateException;
import java.time.Instant;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** What {@code tether peers} says when a dial fails: the cause, and what to do. */
class DialFailureTextTest {
  final LinkManager.Peer peer = new LinkManager.Peer("ab12cd34ef56" + "0".repeat(52), new byte[0], "primary", "10.0.0.7:4100", false, Instant.EPOCH);

  @Test
  void eachCommonFailureSaysWhatToDo() {
    assertThat(DialFailures.explain(new ConnectException("Connection refused"), peer))
        .contains("nothing accepts connections at 10.0.0.7:4100").contains("is tetherd running on the other device");
    assertThat(DialFailures.explain(new SocketTimeoutException("Connect timed out"), peer))
        .contains("no answer from 10.0.0.7:4100");
    assertThat(DialFailures.explain(new SSLHandshakeException("Received fatal alert: certificate_unknown"), peer))
        .contains("no longer trusts this device").contains("'tether unpair ab12cd34ef56' here, then pair the two devices again");
    SSLHandshakeException rekeyed = new SSLHandshakeException("bad certificate");
    rekeyed.initCause(new CertificateException("peer certificate 99 is not pinned for this daemon (unpaired or re-keyed peer)"));
    assertThat(DialFailures.explain(rekeyed, peer)).contains("did not pin").contains("it was reset");
  }
}
