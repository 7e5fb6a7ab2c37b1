package dev.tether;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How a background URL session behaves (Apple: {@code URLSessionConfiguration.background(withIdentifier:)}).
 * Immutable; build one with {@link #background(String)}:
 *
 * <pre>{@code
 * SessionConfiguration config = SessionConfiguration.background("forecast")
 *     .discretionary(true)                       // only on external power and an unmetered network
 *     .requestTimeout(Duration.ofSeconds(30))    // no bytes for this long: retry
 *     .build();
 * }</pre>
 *
 * <p>Defaults follow Apple: not discretionary, sends launch events, 60 s request timeout, 7 days resource timeout;
 * 6 connections per host. Plain {@code http:} is allowed only to loopback hosts unless {@link Builder#allowsPlainHttp}.
 */
public final class SessionConfiguration {
  private final String identifier;
  private final boolean discretionary;
  private final boolean sendsLaunchEvents;
  private final Duration requestTimeout;
  private final Duration resourceTimeout;
  private final int maxConnectionsPerHost;
  private final Map<String, String> headers;
  private final boolean allowsPlainHttp;

  private SessionConfiguration(Builder b) {
    this.identifier = b.identifier;
    this.discretionary = b.discretionary;
    this.sendsLaunchEvents = b.sendsLaunchEvents;
    this.requestTimeout = b.requestTimeout;
    this.resourceTimeout = b.resourceTimeout;
    this.maxConnectionsPerHost = b.maxConnectionsPerHost;
    this.headers = Map.copyOf(b.headers);
    this.allowsPlainHttp = b.allowsPlainHttp;
  }

  /** Starts a configuration for the background session named {@code identifier} (unique within the app). */
  public static Builder background(String identifier) {
    Objects.requireNonNull(identifier, "identifier");
    if (identifier.isBlank() || identifier.length() > 256) {
      throw new IllegalArgumentException("a session identifier has 1 to 256 characters, not '" + identifier + "'");
    }
    return new Builder(identifier);
  }

  /** A builder holding this configuration's values. */
  public Builder toBuilder() {
    Builder b = new Builder(identifier);
    b.discretionary = discretionary;
    b.sendsLaunchEvents = sendsLaunchEvents;
    b.requestTimeout = requestTimeout;
    b.resourceTimeout = resourceTimeout;
    b.maxConnectionsPerHost = maxConnectionsPerHost;
    b.headers.putAll(headers);
    b.allowsPlainHttp = allowsPlainHttp;
    return b;
  }

  public String identifier() {
    return identifier;
  }

  public boolean discretionary() {
    return discretionary;
  }

  public boolean sendsLaunchEvents() {
    return sendsLaunchEvents;
  }

  public Duration requestTimeout() {
    return requestTimeout;
  }

  public Duration resourceTimeout() {
    return resourceTimeout;
  }

  public int maxConnectionsPerHost() {
    return maxConnectionsPerHost;
  }

  /** Extra headers sent with every request of the session. */
  public Map<String, String> headers() {
    return headers;
  }

  public boolean allowsPlainHttp() {
    return allowsPlainHttp;
  }

  @Override
  public String toString() {
    return "SessionConfiguration[" + identifier + ", discretionary=" + discretionary + ", sendsLaunchEvents=" + sendsLaunchEvents
        + ", requestTimeout=" + requestTimeout + ", resourceTimeout=" + resourceTimeout + ", maxConnectionsPerHost="
        + maxConnectionsPerHost + ", headers=" + headers.keySet() + ", allowsPlainHttp=" + allowsPlainHttp + "]";
  }

  /** Builds a {@link SessionConfiguration}. Not thread-safe; {@link #build()} makes an immutable copy. */
  public static final class Builder {
    private final String identifier;
    private boolean discretionary;
    private boolean sendsLaunchEvents = true;
    private Duration requestTimeout = Duration.ofSeconds(60);
    private Duration resourceTimeout = Duration.ofDays(7);
    private int maxConnectionsPerHost = 6;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private boolean allowsPlainHttp;

    private Builder(String identifier) {
      this.identifier = identifier;
    }

    /** Run transfers only on external power and an unmetered network (Apple: {@code isDiscretionary}). */
    public Builder discretionary(boolean discretionary) {
      this.discretionary = discretionary;
      return this;
    }

    /** Whether tetherd launches the app in the background when the session has events for it (default true). */
    public Builder sendsLaunchEvents(boolean sends) {
      this.sendsLaunchEvents = sends;
      return this;
    }

    /** How long a request may go without receiving any bytes before the attempt is retried. */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = positive(timeout, "requestTimeout");
      return this;
    }

    /** How long a transfer may take in all, retries included, before it fails with {@code RESOURCE_TIMED_OUT}. */
    public Builder resourceTimeout(Duration timeout) {
      this.resourceTimeout = positive(timeout, "resourceTimeout");
      return this;
    }

    /** At most this many transfers of the session talk to one host at a time (1 to 64). */
    public Builder maxConnectionsPerHost(int max) {
      if (max < 1 || max > 64) {
        throw new IllegalArgumentException("maxConnectionsPerHost is 1 to 64, not " + max);
      }
      this.maxConnectionsPerHost = max;
      return this;
    }

    /** Adds a header sent with every request of the session. */
    public Builder header(String name, String value) {
      headers.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** Allows plain {@code http:} to hosts other than loopback (off by default). */
    public Builder allowsPlainHttp(boolean allows) {
      this.allowsPlainHttp = allows;
      return this;
    }

    public SessionConfiguration build() {
      return new SessionConfiguration(this);
    }

    private static Duration positive(Duration d, String what) {
      Objects.requireNonNull(d, what);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " must be positive, not " + d);
      }
      return d;
    }
  }
}
