package dev.tether.protocol.wire;

import java.util.List;

/**
 * Every enum of wire names, so that a test can prove each name is defined once and a dispatcher can list what it
 * knows. Add a capability's enums here when you add them. Immutable; any thread.
 */
public final class WireNames {
  private WireNames() {}

  /** The enums of IPC operations. */
  public static final List<Class<? extends Enum<? extends Operation>>> OPERATIONS = List.of(
      DaemonOp.class, TransferOp.class, TaskOp.class, ConnectivityOp.class);

  /** The enums of pushes from tetherd to apps. */
  public static final List<Class<? extends Enum<? extends Push>>> PUSHES = List.of(
      TransferPush.class, TaskPush.class, ConnectivityPush.class);

  /** The enums of frame types between paired daemons. */
  public static final List<Class<? extends Enum<? extends PeerFrameType>>> PEER_FRAMES = List.of(
      LinkFrame.class, ConnectivityFrame.class);
}
