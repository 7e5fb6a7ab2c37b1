package dev.tether.protocol.wire;

/**
 * IPC operations of paired-device connectivity ({@code WCSession}): pairing and relay settings (the CLI and the test
 * kit), and an app's session, queues and live messages. Immutable; any thread.
 */
public enum ConnectivityOp implements Operation {
  /** Arms a one-time pairing code on the peer port (the listening side). */
  PAIR_LISTEN("cx.pair.listen"),
  /** Pairs with a listening daemon at an address, proving the code. */
  PAIR_CONNECT("cx.pair.connect"),
  /** Waits until the armed code has been used, answered with the new peer. */
  PAIR_WAIT("cx.pair.wait"),
  /** This device's fingerprint, port and role, and its paired peers. */
  PEERS("cx.peers"),
  /** Makes a paired companion the active one (primary side). */
  PEERS_ACTIVATE("cx.peers.activate"),
  /** Removes a paired peer. */
  UNPAIR("cx.unpair"),
  /** Sets the MQTT broker links relay through. */
  RELAY_SET("cx.relay.set"),
  /** The relay setting and its state. */
  RELAY_STATUS("cx.relay.status"),
  /** Removes the relay setting. */
  RELAY_CLEAR("cx.relay.clear"),
  /** Activates the app's session, answered with its state and contexts. */
  ACTIVATE("cx.activate"),
  /** The session's current state. */
  STATE("cx.state"),
  /** Queues one user info (or complication user info). */
  USER_INFO("cx.userinfo"),
  /** Queues many user infos in one request. */
  USER_INFO_BATCH("cx.userinfo.batch"),
  /** Replaces the application context. */
  CONTEXT("cx.context"),
  /** Captures and queues a file. */
  FILE("cx.file"),
  /** One page of the app's outstanding transfers. */
  OUTSTANDING("cx.outstanding"),
  /** Cancels an outstanding transfer. */
  CANCEL("cx.cancel"),
  /** The app handled these deliveries. */
  ACK("cx.ack"),
  /** The app was told of these failed transfers. */
  FAILED_ACK("cx.failed.ack"),
  /** Sends a live message to the counterpart app. */
  MESSAGE("cx.message"),
  /** Replies to a live message from the counterpart app. */
  REPLY("cx.reply");

  private final String wire;

  ConnectivityOp(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }
}
