package dev.tether.daemon.internal.transfer;

import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Any thread may call it (reader threads check sessions, workers read their configuration): the sessions'
 * configurations, read once from the store and cached in a concurrent map; {@link #opened} replaces one when its
 * app opens the session again.
 */
final class Sessions {
  private final TransferStore store;
  private final Map<SessionKey, SessionConfig> configs = new ConcurrentHashMap<>();

  Sessions(TransferStore store) {
    this.store = store;
  }

  /** The session's configuration, or null when the app has no such session. */
  SessionConfig config(SessionKey key) {
    SessionConfig cached = configs.get(key);
    if (cached != null) {
      return cached;
    }
    SessionConfig read = store.sessionConfig(key);
    if (read != null) {
      configs.put(key, read);
    }
    return read;
  }

  /** The session was stored with {@code cfg}. */
  void opened(SessionKey key, SessionConfig cfg) {
    configs.put(key, cfg);
  }

  /** The key of {@code app}'s session {@code identifier}; refused when it has none. */
  SessionKey require(String app, String identifier) {
    SessionKey key = new SessionKey(app, identifier);
    if (config(key) == null) {
      throw new TetherException(ErrorCode.UNKNOWN_SESSION, "app " + app + " has no session '" + identifier
          + "'; create it with tether.urlSession(SessionConfiguration.background(\"" + identifier + "\")...) first");
    }
    return key;
  }
}
