package dev.tether.daemon.internal.transfer;

import dev.tether.protocol.Version;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.ManagedHttpClientConnectionFactory;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.impl.io.DefaultHttpResponseParserFactory;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;

/**
 * Stateless; called once at start: the transfers' HTTP client (Apache HttpClient 5 classic), shared by every worker.
 * Strict response parsing (a server answering garbage is a {@code BAD_SERVER_RESPONSE}, not silence to retry), no
 * automatic redirects, retries, decompression, cookies or auth caching: the service does what it needs of those.
 */
final class TransferHttpClient {
  private TransferHttpClient() {}

  static CloseableHttpClient create() {
    Http1Config h1 = Http1Config.custom().setBufferSize(64 * 1024).build();
    var connections = ManagedHttpClientConnectionFactory.builder().http1Config(h1)
        .responseParserFactory(new DefaultHttpResponseParserFactory(h1)).build();
    PoolingHttpClientConnectionManager cm = PoolingHttpClientConnectionManagerBuilder.create().setConnectionFactory(connections)
        .setMaxConnTotal(256).setMaxConnPerRoute(64).setDnsResolver(LocalHosts.RESOLVER)
        .setDefaultSocketConfig(SocketConfig.custom().setTcpNoDelay(true).setRcvBufSize(4 << 20).build())
        .setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(Timeout.ofSeconds(30))
            .setSocketTimeout(Timeout.ofSeconds(60)).setValidateAfterInactivity(TimeValue.ofSeconds(2)).build())
        .build();
    return HttpClients.custom().setConnectionManager(cm).disableRedirectHandling().disableAutomaticRetries()
        .disableContentCompression().disableCookieManagement().disableAuthCaching()
        .setUserAgent("tetherd/" + Version.get()).build();
  }
}
