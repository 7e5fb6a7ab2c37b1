package dev.tether.daemon.internal.transfer;

import java.util.Map;

/** Immutable, so any thread may use it: a validated request for one new transfer, ready to insert. */
record NewTransfer(SessionKey key, String kind, String url, String method, Map<String, String> headers,
    String description, Long notBefore, long expected, String destination, String uploadFile, long now, long deadline,
    ResumeData resume) {}
