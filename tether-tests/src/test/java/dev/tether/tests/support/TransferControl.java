package dev.tether.tests.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;

/** The transfer service's calls that `tether conditions` and `tether transfers` make, for tests that drive them. */
public final class TransferControl {
  private TransferControl() {}

  /**
   * {@code tether conditions --network VALUE} ({@code none}, {@code unmetered}, {@code auto}, ...): {@code auto} has
   * the daemon read the system again at once.
   */
  public static ObjectNode network(DaemonClient cli, String value) {
    ObjectNode b = Json.object();
    b.put("network", value);
    return cli.call("transfer.conditions", b);
  }

  /** One transfer as {@code tether transfers --json} shows it. */
  public static JsonNode transfer(DaemonClient cli, long id) {
    ObjectNode b = Json.object();
    b.put("id", id);
    return cli.call("transfer.get", b);
  }
}
