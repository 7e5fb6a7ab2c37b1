package dev.tether.daemon.internal.task;

import java.time.Instant;

/**
 * Immutable, any thread: why a task waits and until when (null: until something changes, such as the app leaving the
 * foreground).
 */
record Waiting(WaitReason reason, Instant until, String detail) {}
