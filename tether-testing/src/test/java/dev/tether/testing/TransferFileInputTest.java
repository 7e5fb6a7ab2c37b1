package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tether.ConnectivityDelegate;
import dev.tether.ConnectivitySession;
import dev.tether.ErrorCode;
import dev.tether.Tether;
import dev.tether.TetherException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code transferFile} says about a path that is not one readable file. */
class TransferFileInputTest {
  @TempDir Path tmp;

  @Test
  void aFolderIsRefusedSayingItIsAFolder() {
    try (TetherTestKit phone = TetherTestKit.start(); TetherTestKit watch = TetherTestKit.start()) {
      TetherTestKit.pair(phone, watch);
      try (Tether app = phone.connect("com.example.notes")) {
        ConnectivitySession cx = app.connectivity(new ConnectivityDelegate() {});
        cx.activate().join();
        assertThatThrownBy(() -> cx.transferFile(tmp, Map.of())).isInstanceOfSatisfying(TetherException.class, e -> {
          org.assertj.core.api.Assertions.assertThat(e.code()).isEqualTo(ErrorCode.FILE_NOT_FOUND);
          org.assertj.core.api.Assertions.assertThat(e.getMessage()).contains(tmp + ": it is a folder");
        });
        assertThatThrownBy(() -> cx.transferFile(tmp.resolve("missing.txt"), Map.of())).isInstanceOfSatisfying(TetherException.class,
            e -> org.assertj.core.api.Assertions.assertThat(e.getMessage()).contains("no file at"));
      }
    }
  }
}
