package dev.tether.testing;

import java.time.Instant;
import java.util.Map;

/** A task that waits: its kind ({@code appRefresh}, {@code urlSession(ID)}, {@code connectivity}), why, until when. */
public record Waiting(String taskId, String task, WaitReason reason, Instant until, String detail, int coalesced,
    Map<String, Object> userInfo) {}
