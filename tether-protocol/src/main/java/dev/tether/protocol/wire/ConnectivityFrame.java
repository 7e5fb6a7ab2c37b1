package dev.tether.protocol.wire;

/** Frames of the connectivity queues between two paired daemons. Immutable; any thread. */
public enum ConnectivityFrame implements PeerFrameType {
  /** Many user info items. */
  ITEMS("items"),
  /** One user info item. */
  ITEM("item"),
  /** The receiver stored these items (sequence numbers). */
  ACK("ack"),
  /** The lowest sequence number left in the sender's outbox. */
  LOW("low"),
  /** The receiver cannot store these items now. */
  ITEMS_REFUSED("items.refused"),
  /** The sender offers refused items again, ahead of them. */
  ITEMS_RETRY("items.retry"),
  /** An application context. */
  CTX("ctx"),
  /** The receiver stored an application context. */
  CTX_ACK("ctx.ack"),
  /** The apps installed, running and with a complication on the sending device. */
  APPS("apps"),
  /** A file is offered. */
  FILE_OFFER("file.offer"),
  /** A chunk of the offered file (raw bytes attached). */
  FILE_CHUNK("file.chunk"),
  /** The sender's SHA-256 of the whole file, after its last chunk. */
  FILE_END("file.end"),
  /** The sender's app cancelled the file. */
  FILE_DROP("file.drop"),
  /** The receiver holds this many bytes of the offered file. */
  FILE_RESUME("file.resume"),
  /** The receiver cannot store the offered file now. */
  FILE_REFUSED("file.refused"),
  /** A live message. */
  MSG("msg"),
  /** The reply to a live message, or its error. */
  MSG_REPLY("msg.reply");

  private final String wire;

  ConnectivityFrame(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
