package dev.tether;

import java.nio.file.Path;
import java.util.Map;

/**
 * A file the counterpart sent (Apple: {@code WCSessionFile}). {@link #path()} exists only until
 * {@link ConnectivityDelegate#fileReceived} returns: move it to keep it. Its SHA-256 was checked on arrival.
 */
public record ReceivedFile(Path path, Map<String, Object> metadata, long size, String sha256) {}
