package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Which hosts are this machine: by their text alone, and by what a name resolves to, never on the caller's thread. */
class LocalHostsTest {
  @Test
  void loopbackLiteralsAndLocalhostNamesAreLocalWithoutALookup() {
    for (String h : List.of("127.0.0.1", "127.0.0.2", "127.255.1.9", "::1", "[::1]", "0:0:0:0:0:0:0:1", "localhost",
        "LocalHost", "app.localhost", "a.b.localhost", "localhost.")) {
      assertThat(LocalHosts.byName(h)).as(h).isTrue();
    }
    for (String h : List.of("10.0.0.1", "128.0.0.1", "[2001:db8::1]", "::2", "0.0.0.0")) {
      assertThat(LocalHosts.byName(h)).as(h).isFalse();
    }
    for (String h : List.of("example.com", "localhost.example.com", "mylocalhost", "vm")) {
      assertThat(LocalHosts.byName(h)).as(h).isNull();
    }
  }

  @Test
  void aNameIsLocalOnlyWhenEveryAddressItResolvesToIsLoopback() throws Exception {
    Map<String, InetAddress[]> names = Map.of(
        "box", new InetAddress[] {InetAddress.getByName("127.0.1.1")},
        "both", new InetAddress[] {InetAddress.getByName("127.0.0.1"), InetAddress.getByName("192.0.2.7")},
        "far", new InetAddress[] {InetAddress.getByName("192.0.2.8")});
    List<String> resolved = new CopyOnWriteArrayList<>();
    try (LocalHosts hosts = new LocalHosts(h -> {
      InetAddress[] a = names.get(h);
      if (a == null) {
        throw new UnknownHostException(h);
      }
      return a;
    }, resolved::add)) {
      for (String h : List.of("box", "both", "far", "gone")) {
        assertThat(hosts.isLocal(h)).as("before its lookup ended: %s", h).isNull();
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> resolved.size() == 4);
      assertThat(hosts.isLocal("box")).isTrue();
      assertThat(hosts.isLocal("BOX")).isTrue();
      assertThat(hosts.isLocal("both")).isFalse();
      assertThat(hosts.isLocal("far")).isFalse();
      assertThat(hosts.isLocal("gone")).isFalse();
      assertThat(resolved).hasSize(4); // answered from the cache: no second lookup
    }
  }

  @Test
  void aLookupThatHangsHoldsBackNoCaller() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (LocalHosts hosts = new LocalHosts(h -> {
      try {
        release.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new UnknownHostException(h);
    }, h -> { })) {
      long t0 = System.nanoTime();
      for (int i = 0; i < 100; i++) {
        assertThat(hosts.isLocal("slow.example")).isNull();
      }
      assertThat(hosts.isLocal("127.0.0.3")).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(1));
      release.countDown();
      await().atMost(Duration.ofSeconds(10)).until(() -> Boolean.FALSE.equals(hosts.isLocal("slow.example")));
    }
  }

  @Test
  void localhostNamesResolveToLoopbackForConnectionsWithoutDns() throws Exception {
    InetAddress[] a = LocalHosts.RESOLVER.resolve("app.localhost");
    assertThat(a).isNotEmpty().allSatisfy(x -> assertThat(x.isLoopbackAddress()).isTrue());
    assertThat(a[0].getHostAddress()).isEqualTo("127.0.0.1");
  }
}
