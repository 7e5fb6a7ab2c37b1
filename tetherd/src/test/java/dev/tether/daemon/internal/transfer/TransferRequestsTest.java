package dev.tether.daemon.internal.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.Json;
import org.junit.jupiter.api.Test;

class TransferRequestsTest {
  private static ObjectNode body(String json) {
    return Json.parseObject(json);
  }

  private static void refused(Runnable parse, ErrorCode code, String message) {
    assertThatThrownBy(parse::run).isInstanceOfSatisfying(TetherException.class, e -> {
      assertThat(e.code()).isEqualTo(code);
      assertThat(e.getMessage()).isEqualTo(message);
    });
  }

  @Test
  void aSessionIdentifierIsNonEmptyTextOfAtMost256Characters() {
    String needs = "the request needs a non-empty text field 'session'";
    refused(() -> TransferRequests.Open.parse(body("{}")), ErrorCode.INVALID_PARAMETER, needs);
    refused(() -> TransferRequests.Close.parse(body("{\"session\": 7}")), ErrorCode.INVALID_PARAMETER, needs);
    refused(() -> TransferRequests.Ack.parse(body("{\"session\": \"  \"}")), ErrorCode.INVALID_PARAMETER, needs);
    refused(() -> TransferRequests.Create.parse(body("{\"session\": \"" + "s".repeat(257) + "\"}")), ErrorCode.INVALID_PARAMETER,
        "a session identifier has at most 256 characters");
    assertThat(TransferRequests.Close.parse(body("{\"session\": \"" + "s".repeat(256) + "\"}")).session()).hasSize(256);
  }

  @Test
  void aTransferIdIsANumber() {
    String needs = "the request needs a numeric transfer 'id'";
    refused(() -> TransferRequests.ById.parse(body("{}")), ErrorCode.INVALID_PARAMETER, needs);
    refused(() -> TransferRequests.Cancel.parse(body("{\"id\": \"x\"}")), ErrorCode.INVALID_PARAMETER, needs);
    assertThat(TransferRequests.ById.parse(body("{\"id\": 42}")).id()).isEqualTo(42);
    assertThat(TransferRequests.Cancel.parse(body("{\"id\": 3, \"produceResumeData\": true}")).produceResumeData()).isTrue();
  }

  @Test
  void manyItemsAreCheckedBeforeTheSessionAndEachBadItemIsRefusedAlone() {
    refused(() -> TransferRequests.Create.parse(body("{\"items\": []}")), ErrorCode.INVALID_PARAMETER,
        "items must be an array of 1 to 100000 transfer requests");
    refused(() -> TransferRequests.Create.parse(body("{\"items\": {}, \"session\": 1}")), ErrorCode.INVALID_PARAMETER,
        "items must be an array of 1 to 100000 transfer requests");
    TransferRequests.Create c = TransferRequests.Create.parse(body(
        "{\"session\": \"s\", \"brief\": true, \"items\": [{\"url\": \"https://a/1\"}, 5, {\"resumeData\": null}]}"));
    assertThat(c.item()).isNull();
    assertThat(c.brief()).isTrue();
    assertThat(c.many()).hasSize(3);
    assertThat(((TransferRequests.Item) c.many().get(0)).url()).isEqualTo("https://a/1");
    assertThat(c.many().get(1)).isInstanceOfSatisfying(TetherException.class,
        e -> assertThat(e.getMessage()).isEqualTo("each item is a transfer request without resumeData"));
    assertThat(c.many().get(2)).isInstanceOf(TetherException.class);
  }

  @Test
  void anItemKeepsWhatTheCreatorChecksInOrder() {
    TransferRequests.Item i = TransferRequests.Item.parse(body("{\"url\": 5, \"method\": \"post\", \"notBefore\": \"soon\","
        + " \"headers\": {\"A\": \"b\"}, \"description\": \"d\"}"));
    assertThat(i.url()).as("not text: refused by the creator after the session check").isNull();
    assertThat(i.method()).isEqualTo("post");
    assertThat(i.notBefore()).isEqualTo("soon");
    assertThat(i.notBeforeJson()).isEqualTo("\"soon\"");
    assertThat(i.headers()).containsEntry("A", "b");
    assertThat(i.expectedBytes()).isEqualTo(-1);
    assertThat(TransferRequests.Item.parse(body("{}")).method()).isEqualTo("PUT");
  }

  @Test
  void anAckIsABurstOfSeqsOrOneSeqWithItsAnswer() {
    TransferRequests.Ack burst = TransferRequests.Ack.parse(body("{\"session\": \"s\", \"seqs\": [3, 4, 5]}"));
    assertThat(burst.seqs()).containsExactly(3L, 4L, 5L);
    assertThat(burst.answer()).isNull();
    TransferRequests.Ack one = TransferRequests.Ack.parse(body(
        "{\"session\": \"s\", \"seq\": 9, \"answer\": {\"disposition\": \"useCredential\", \"user\": \"u\", \"password\": \"p\"}}"));
    assertThat(one.seqs()).containsExactly(9L);
    assertThat(one.answer()).isEqualTo(new TransferRequests.Answer("useCredential", "u", "p"));
    assertThat(TransferRequests.Ack.parse(body("{\"session\": \"s\", \"seq\": 1, \"answer\": {}}")).answer().disposition())
        .isEqualTo("performDefault");
  }
}
