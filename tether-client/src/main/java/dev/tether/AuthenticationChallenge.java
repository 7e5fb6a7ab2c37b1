package dev.tether;

import java.util.Optional;

/**
 * A server (401) or proxy (407) asked for credentials (Apple: {@code URLAuthenticationChallenge}). The transfer waits
 * until the delegate answers with a {@link ChallengeResponse}.
 */
public final class AuthenticationChallenge {
  private final int status;
  private final String scheme;
  private final String realm;
  private final String host;
  private final boolean proxy;
  private final int previousFailureCount;

  public AuthenticationChallenge(int status, String scheme, String realm, String host, boolean proxy, int previousFailureCount) {
    this.status = status;
    this.scheme = scheme;
    this.realm = realm;
    this.host = host;
    this.proxy = proxy;
    this.previousFailureCount = previousFailureCount;
  }

  /** 401 or 407. */
  public int status() {
    return status;
  }

  /** The authentication scheme the server named, e.g. {@code Basic}. */
  public String scheme() {
    return scheme;
  }

  public Optional<String> realm() {
    return Optional.ofNullable(realm);
  }

  public String host() {
    return host;
  }

  /** True for a proxy's challenge (407). */
  public boolean proxy() {
    return proxy;
  }

  /** How many answers for this transfer the server rejected before. */
  public int previousFailureCount() {
    return previousFailureCount;
  }

  @Override
  public String toString() {
    return "AuthenticationChallenge[" + status + " " + scheme + (realm == null ? "" : " realm=" + realm) + " host=" + host
        + ", previousFailures=" + previousFailureCount + "]";
  }
}
