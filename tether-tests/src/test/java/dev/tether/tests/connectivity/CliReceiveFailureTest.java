package dev.tether.tests.connectivity;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tether.protocol.Json;
import dev.tether.tests.support.Cli;
import dev.tether.tests.support.PairedDaemons;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tether receive} that cannot keep a delivery (its {@code --files} folder refuses the file) stops without
 * acknowledging it, so the next receive gets it; a {@code --files} that is not a folder is refused before anything.
 */
class CliReceiveFailureTest {
  static final String APP = "com.example.notes";
  @TempDir Path tmp;

  @Test
  void aFileThatCannotBeKeptIsNotAcknowledgedAndTheNextReceiveGetsIt() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path note = Files.writeString(tmp.resolve("note.txt"), "keep me");
      Cli.Result sent = Cli.run(d.primary.home(), "send", "file", "--app", APP, note.toString());
      assertThat(sent.exitCode()).as(sent.toString()).isZero();

      Cli.Result notAFolder = Cli.run(d.companion.home(), "receive", "--app", APP, "--files", note.toString(), "--count", "1", "--timeout", "20");
      assertThat(notAFolder.exitCode()).as(notAFolder.toString()).isEqualTo(4);
      assertThat(notAFolder.err()).contains("is not a folder");

      Path files = tmp.resolve("files");
      Files.createDirectories(files.resolve("note.txt").resolve("in-the-way")); // the move onto it fails
      Cli.Result refused = Cli.run(d.companion.home(), "receive", "--app", APP, "--files", files.toString(), "--count", "1", "--timeout", "30");
      assertThat(refused.exitCode()).as(refused.toString()).isEqualTo(1);
      assertThat(refused.err()).contains("FILE_ACCESS_DENIED").contains("comes again");

      Cli.Result again = Cli.run(d.companion.home(), "receive", "--app", APP, "--files", tmp.resolve("kept").toString(),
          "--count", "1", "--timeout", "30");
      assertThat(again.exitCode()).as(again.toString()).isZero();
      JsonNode line = Json.parse(again.out().trim());
      assertThat(line.path("kind").asText()).isEqualTo("file");
      assertThat(line.path("path").asText()).isEqualTo(tmp.resolve("kept").resolve("note.txt").toString());
      assertThat(Files.readString(tmp.resolve("kept").resolve("note.txt"))).isEqualTo("keep me");
    }
  }
}
