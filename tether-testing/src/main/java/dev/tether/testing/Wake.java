package dev.tether.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * One wake in the timeline: when it started and ended, whether tetherd launched the app for it, why (as
 * {@code tether timeline} shows it: each task and what asked for it, e.g. {@code "urlSession(forecast): transfers
 * finished"}), which tasks it carried ({@code "appRefresh"}, {@code "urlSession(ID)"}, {@code "connectivity"}, each
 * with its final state), how long it took, the overrun and runtime charged, and the outcome.
 */
public record Wake(String id, Instant startedAt, Instant endedAt, boolean launched, String reason, List<String> tasks,
    List<String> taskStates, int coalesced, WakeOutcome outcome, Duration duration, Duration overrun, Duration charged,
    String error) {}
