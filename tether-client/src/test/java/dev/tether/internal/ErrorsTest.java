package dev.tether.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.ErrorCode;
import dev.tether.TetherException;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The app's error codes and the wire's cannot drift apart: the same names in the same order, and every wire failure
 * reaches the app as the public exception with the same code, message, cause and stack.
 */
class ErrorsTest {
  @Test
  void theAppsCodesAreTheWiresCodesInTheSameOrder() {
    assertThat(Arrays.stream(ErrorCode.values()).map(Enum::name))
        .containsExactlyElementsOf(Arrays.stream(dev.tether.protocol.ErrorCode.values()).map(Enum::name).toList());
    for (dev.tether.protocol.ErrorCode wire : dev.tether.protocol.ErrorCode.values()) {
      assertThat(Errors.code(wire).name()).isEqualTo(wire.name());
      assertThat(Errors.code(wire).ordinal()).isEqualTo(wire.ordinal());
    }
  }

  @Test
  void aWireFailureReachesTheAppAsTheAppsException() {
    IOException cause = new IOException("disk");
    var wire = new dev.tether.protocol.TetherException(dev.tether.protocol.ErrorCode.PAYLOAD_TOO_LARGE, "too big", cause);
    TetherException app = Errors.toPublic(wire);
    assertThat(app.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE);
    assertThat(app.getMessage()).isEqualTo("too big");
    assertThat(app.getCause()).isSameAs(cause);
    assertThat(app.getStackTrace()).isEqualTo(wire.getStackTrace());
    assertThat(app).hasToString(wire.toString());

    assertThatThrownBy(() -> Errors.translate(() -> {
      throw new dev.tether.protocol.TetherException(dev.tether.protocol.ErrorCode.CORRUPT_FRAME, "bad tag");
    })).isInstanceOfSatisfying(TetherException.class, e -> {
      assertThat(e.code()).isEqualTo(ErrorCode.CORRUPT_FRAME);
      assertThat(e.getMessage()).isEqualTo("bad tag");
    });
    assertThat(Errors.translate(() -> "ok")).isEqualTo("ok");
  }
}
