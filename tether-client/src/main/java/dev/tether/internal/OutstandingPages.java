package dev.tether.internal;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityOp;

/**
 * An app's outstanding user info and file transfers, read page by page ({@code cx.outstanding} answers a few MB at a
 * time, so that many large user infos never make an answer too large for one frame) and joined, in order.
 */
public final class OutstandingPages {
  private OutstandingPages() {}

  /** {@code {"userInfo": [...], "files": [...]}} with every outstanding transfer of the client's app. */
  public static ObjectNode all(DaemonClient client) {
    ObjectNode all = Json.object();
    ArrayNode infos = all.putArray("userInfo");
    ArrayNode files = all.putArray("files");
    long after = 0;
    while (true) {
      ObjectNode b = Json.object();
      b.put("after", after);
      ObjectNode page = client.call(ConnectivityOp.OUTSTANDING, b);
      page.path("userInfo").forEach(infos::add);
      page.path("files").forEach(files::add);
      if (!page.hasNonNull("next") || page.path("next").asLong() <= after) {
        return all;
      }
      after = page.path("next").asLong();
    }
  }
}
