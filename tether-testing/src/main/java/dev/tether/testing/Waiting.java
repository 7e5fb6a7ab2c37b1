package dev.tether.testing;

import java.time.Instant;
import java.util.Map;

/**
 * A task that waits: its kind ({@code appRefresh}, {@code urlSession(ID)}, {@code connectivity}), why it waits, until
 * when, and its cause: what asked for it (e.g. {@code "data from the paired device"}).
 */
public record Waiting(String taskId, String task, WaitReason reason, Instant until, String detail, int coalesced,
    Map<String, Object> userInfo, String cause) {}
