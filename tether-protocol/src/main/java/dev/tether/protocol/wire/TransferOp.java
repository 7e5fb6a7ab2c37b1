package dev.tether.protocol.wire;

/** Operations of background URL sessions (tetherd's transfer capability). Immutable; any thread. */
public enum TransferOp implements Operation {
  /** Opens (creates or re-attaches) a session by identifier; its pending events are then pushed to the connection. */
  SESSION_OPEN("transfer.session.open"),
  /** Stops this connection's delivery of a session's events; with {@code cancel}, cancels its transfers. */
  SESSION_CLOSE("transfer.session.close"),
  /** Creates one download, or many with {@code items}. */
  DOWNLOAD("transfer.download"),
  /** Creates one upload, or many with {@code items}. */
  UPLOAD("transfer.upload"),
  /** Lists the app's transfers (the CLI: every app's with {@code allApps}). */
  LIST("transfer.list"),
  /** One transfer's snapshot. */
  GET("transfer.get"),
  /** Suspends a running transfer. */
  SUSPEND("transfer.suspend"),
  /** Resumes a suspended transfer. */
  RESUME("transfer.resume"),
  /** Cancels a transfer, optionally producing resume data. */
  CANCEL("transfer.cancel"),
  /** Acknowledges events after the delegate returned ({@code seqs}, or {@code seq} with a challenge's {@code answer}). */
  ACK("transfer.ack"),
  /** Reads, and for the CLI overrides, the device conditions discretionary transfers wait for. */
  CONDITIONS("transfer.conditions");

  private final String wire;

  TransferOp(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
