package dev.tether.daemon.internal.transfer;

import dev.tether.daemon.internal.Threads;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SystemDefaultDnsResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any thread may ask it (a concurrent cache); names are looked up on its own two threads ({@code
 * tether-transfer-resolve}). Which hosts are this machine, so transfers to them need no network: loopback literals
 * ({@code 127.0.0.0/8}, {@code ::1}, {@code [::1]}), {@code localhost} and every {@code *.localhost} name (RFC 6761,
 * answered here without asking DNS), and any other name that resolves only to loopback addresses (say, the machine's
 * own name in {@code /etc/hosts}).
 *
 * <p>Names are resolved on a thread of their own, never by the caller: {@link #isLocal} answers from a cache (kept
 * {@value #TTL_SECONDS} s) or says "not known yet" and starts a lookup, whose end is reported to the listener. A lookup
 * that hangs (DNS while the network is gone) holds back nothing but the answer for that name.
 */
final class LocalHosts implements AutoCloseable {
  static final long TTL_SECONDS = 30;
  private static final Logger log = LoggerFactory.getLogger(LocalHosts.class);

  /** The loopback addresses a {@code *.localhost} name stands for, IPv4 first. */
  static final DnsResolver RESOLVER = new DnsResolver() {
    @Override
    public InetAddress[] resolve(String host) throws UnknownHostException {
      if (isLocalhostName(host)) {
        return new InetAddress[] {
            InetAddress.getByAddress(host, new byte[] {127, 0, 0, 1}),
            InetAddress.getByAddress(host, new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})};
      }
      return SystemDefaultDnsResolver.INSTANCE.resolve(host);
    }

    @Override
    public String resolveCanonicalHostname(String host) throws UnknownHostException {
      return isLocalhostName(host) ? host : SystemDefaultDnsResolver.INSTANCE.resolveCanonicalHostname(host);
    }
  };

  private record Answer(boolean local, long at) {}

  private final Resolver resolver;
  private final Consumer<String> resolved;
  private final Map<String, Answer> cache = new ConcurrentHashMap<>();
  private final Set<String> pending = ConcurrentHashMap.newKeySet();
  private final ExecutorService lookups = Threads.pool("tether-transfer-resolve", 2);

  /** A name's addresses ({@code InetAddress::getAllByName} on a device). */
  interface Resolver {
    InetAddress[] resolve(String host) throws UnknownHostException;
  }

  /** {@code resolved} is told each name whose lookup ended (on the lookup's thread). */
  LocalHosts(Resolver resolver, Consumer<String> resolved) {
    this.resolver = resolver;
    this.resolved = resolved;
  }

  /**
   * Whether {@code host} (as written in a URL) is this machine: {@code TRUE}/{@code FALSE}, or null when a name is not
   * known yet (a lookup runs; the listener hears when it ended).
   */
  Boolean isLocal(String host) {
    Boolean literal = byName(host);
    if (literal != null) {
      return literal;
    }
    String name = host.toLowerCase(Locale.ROOT);
    Answer a = cache.get(name);
    if (a != null && System.nanoTime() - a.at() < TimeUnit.SECONDS.toNanos(TTL_SECONDS)) {
      return a.local();
    }
    if (pending.add(name)) {
      try {
        lookups.execute(() -> lookUp(name));
      } catch (RejectedExecutionException e) {
        pending.remove(name); // closing
      }
    }
    return a == null ? null : a.local(); // an expired answer stands while it is looked up again
  }

  private void lookUp(String name) {
    boolean local;
    try {
      InetAddress[] all = resolver.resolve(name);
      local = all.length > 0;
      for (InetAddress a : all) {
        local &= a.isLoopbackAddress();
      }
    } catch (UnknownHostException | RuntimeException e) {
      local = false; // not resolvable now: it is not this machine, and would need a network
    }
    Answer before = cache.put(name, new Answer(local, System.nanoTime()));
    pending.remove(name);
    if (before == null || before.local() != local) {
      log.info("transfers: host {} is {}", name, local ? "this machine (loopback only)" : "not this machine");
    }
    resolved.accept(name);
  }

  /**
   * What the host's text alone says: {@code TRUE} for a loopback literal, {@code localhost} or a {@code *.localhost}
   * name, {@code FALSE} for any other address literal, null for a name that must be resolved.
   */
  static Boolean byName(String host) {
    String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (h.isEmpty()) {
      return Boolean.FALSE;
    }
    if (isLocalhostName(h)) {
      return Boolean.TRUE;
    }
    if (h.indexOf(':') >= 0) { // an IPv6 literal: parsed, never looked up
      try {
        return InetAddress.getByName(h).isLoopbackAddress();
      } catch (UnknownHostException e) {
        return Boolean.FALSE;
      }
    }
    if (isIpv4Literal(h)) {
      return h.startsWith("127.");
    }
    return null;
  }

  /** {@code localhost} or a name under it (RFC 6761 section 6.3), with or without the root's trailing dot. */
  static boolean isLocalhostName(String host) {
    String h = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    h = h.toLowerCase(Locale.ROOT);
    return h.equals("localhost") || h.endsWith(".localhost");
  }

  /** Only digits and dots: an IPv4 address literal (a malformed one fails later, when it is connected to). */
  private static boolean isIpv4Literal(String h) {
    for (int i = 0; i < h.length(); i++) {
      char c = h.charAt(i);
      if ((c < '0' || c > '9') && c != '.') {
        return false;
      }
    }
    return true;
  }

  @Override
  public void close() {
    lookups.shutdownNow();
  }
}
