package dev.tether.protocol.wire;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Frame;

/**
 * The link-level frames between two daemons: the hello that opens a link to a paired peer, the pairing protocol run
 * on an unpaired connection, and the heartbeat. What travels on an open link for the capabilities (items, files,
 * messages) is defined by them. Immutable; any thread.
 */
public enum LinkFrame implements PeerFrameType {
  /** The dialer's first frame on a link to a paired peer: {@code protocol}. */
  LINK_HELLO("link.hello"),
  /** The accepting side's answer to {@link #LINK_HELLO}: the link is up. */
  LINK_WELCOME("link.welcome"),
  /** The connector opens pairing: {@code protocol}, {@code nonce}. */
  PAIR_HELLO("pair.hello"),
  /** The listener's answer: its {@code nonce} and the {@code role} it becomes. */
  PAIR_CHALLENGE("pair.challenge"),
  /** The connector's {@code mac} over both fingerprints and nonces, keyed with the code. */
  PAIR_PROOF("pair.proof"),
  /** The listener accepted the proof and proves the code in turn: {@code mac}. */
  PAIR_ACCEPT("pair.accept"),
  /** The connector checked the listener's proof and pinned it. */
  PAIR_DONE("pair.done"),
  /** The listener pinned the connector: pairing finished. */
  PAIR_OK("pair.ok"),
  /** The listener refuses the pairing: {@code reason}. */
  PAIR_REFUSED("pair.refused"),
  /** The heartbeat each side sends on an open link every heartbeat interval. */
  PING("ping");

  private final String wire;

  LinkFrame(String wire) {
    this.wire = wire;
  }

  @Override
  public String wire() {
    return wire;
  }

  /** A frame of this type (id 0) with {@code body}. */
  public Frame frame(ObjectNode body) {
    return new Frame(wire, 0, body);
  }

  /** Whether {@code f} is a frame of this type (false for null). */
  public boolean is(Frame f) {
    return f != null && f.type().equals(wire);
  }
}
