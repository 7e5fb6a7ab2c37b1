package dev.tether.tests.support;

import dev.tether.AuthenticationChallenge;
import dev.tether.ChallengeResponse;
import dev.tether.DownloadTransfer;
import dev.tether.Transfer;
import dev.tether.TransferError;
import dev.tether.UploadTransfer;
import dev.tether.UrlSession;
import dev.tether.UrlSessionDelegate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;

/** A session delegate that records what it got, in order, and completes a future per transfer. */
public final class RecordingDelegate implements UrlSessionDelegate {
  /** One delegate call. */
  public record Call(String type, long transferId, String detail) {}

  private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
  private final Map<Long, CompletableFuture<Optional<TransferError>>> completions = new ConcurrentHashMap<>();
  private final Map<Long, String> sha = new ConcurrentHashMap<>();
  private volatile BiFunction<Transfer, AuthenticationChallenge, ChallengeResponse> challenges = (t, c) -> ChallengeResponse.performDefault();

  public RecordingDelegate onChallenge(BiFunction<Transfer, AuthenticationChallenge, ChallengeResponse> answer) {
    this.challenges = answer;
    return this;
  }

  public CompletableFuture<Optional<TransferError>> completion(long id) {
    return completions.computeIfAbsent(id, k -> new CompletableFuture<>());
  }

  public List<Call> calls() {
    synchronized (calls) {
      return List.copyOf(calls);
    }
  }

  public List<Call> calls(String type) {
    return calls().stream().filter(c -> c.type().equals(type)).toList();
  }

  /** SHA-256 of the file handed to downloadFinished (computed inside the callback, while it exists). */
  public String sha256(long id) {
    return sha.get(id);
  }

  @Override
  public void progress(DownloadTransfer t, long done, long expected) {
    calls.add(new Call("progress", t.id(), done + "/" + expected));
  }

  @Override
  public void uploadProgress(UploadTransfer t, long done, long expected) {
    calls.add(new Call("uploadProgress", t.id(), done + "/" + expected));
  }

  @Override
  public void downloadFinished(DownloadTransfer t, Path file) throws Exception {
    sha.put(t.id(), GeneratedContent.sha256(file));
    calls.add(new Call("downloadFinished", t.id(), file + " " + Files.size(file)));
  }

  @Override
  public ChallengeResponse challenge(Transfer t, AuthenticationChallenge c) {
    calls.add(new Call("challenge", t.id(), c.status() + " " + c.scheme() + " " + c.realm().orElse("") + " " + c.previousFailureCount()));
    return challenges.apply(t, c);
  }

  @Override
  public void transferCompleted(Transfer t, Optional<TransferError> error) {
    calls.add(new Call("completed", t.id(), error.map(TransferError::toString).orElse("ok")));
    completion(t.id()).complete(error);
  }

  @Override
  public void eventsFinished(UrlSession session) {
    calls.add(new Call("eventsFinished", 0, session.configuration().identifier()));
  }
}
