package dev.tether.protocol.wire;

/** Pushes of background URL sessions from tetherd to the connection that has the session open. Immutable; any thread. */
public enum TransferPush implements Push {
  /** A running transfer's live byte count, at most every 250 ms per transfer; never stored. */
  PROGRESS("transfer.progress"),
  /** Many stored events of one session in one frame, {@code {"session", "events": [EVENT...]}}, in order. */
  EVENTS("transfer.events"),
  /** One stored event per frame, for a client that did not ask for batches ({@code eventBatches}) when opening. */
  EVENT("transfer.event");

  private final String wire;

  TransferPush(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
