package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.tests.support.Cli;
import dev.tether.tests.support.JavaProcesses;
import dev.tether.tests.support.PairedDaemons;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, items 12 and 13: payload input the CLI cannot send (invalid UTF-8 in a {@code --from} file or an argument,
 * a 100 MiB payload, 10,000 levels of nesting) is refused with the project's words, a typed code and exit code 4 (bad
 * input), never the JDK's "Input length = 1" or the JSON library's internal limits.
 */
class CliInputErrorsTest {
  private static final String APP = "com.example.weather";

  @TempDir Path tmp;

  @Test
  void invalidUtf8InAFromFileNamesTheFileAndLineAndAsAnArgumentIsRefusedInsteadOfReplaced() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path home = d.primary.home();
      Path file = tmp.resolve("infos.jsonl");
      try (OutputStream out = Files.newOutputStream(file)) {
        out.write("{\"n\":1}\n{\"n\":2}\r\n{\"city\":\"Z".getBytes(StandardCharsets.UTF_8));
        out.write(new byte[] {(byte) 0xC3, (byte) 0x28}); // a lead byte followed by no continuation byte
        out.write("rich\"}\n".getBytes(StandardCharsets.UTF_8));
      }
      Cli.Result fromFile = Cli.run(home, "send", "userinfo", "--app", APP, "--from", file.toString());
      assertThat(fromFile.exitCode()).as(fromFile.toString()).isEqualTo(4);
      assertThat(fromFile.err()).as(fromFile.toString()).contains(file.toString()).contains("line 3")
          .contains("not valid UTF-8").contains("column 11").contains("[INVALID_PARAMETER]")
          .doesNotContain("Input length");

      // the same bytes as a command-line argument: decoded by the JVM to U+FFFD, which must not be sent
      Cli.Result arg = runWithRawArgument(home, "{\"city\":\"Z\\303(rich\"}", "send", "userinfo", "--app", APP);
      assertThat(arg.exitCode()).as(arg.toString()).isEqualTo(4);
      assertThat(arg.err()).as(arg.toString()).contains("JSON argument is not valid UTF-8").contains("--from FILE")
          .contains("[INVALID_PARAMETER]");
      Cli.Result message = runWithRawArgument(home, "{\"q\":\"\\377\"}", "send", "message", "--app", APP);
      assertThat(message.exitCode()).as(message.toString()).isEqualTo(4);
      assertThat(message.err()).contains("not valid UTF-8");
      Cli.Result outstanding = Cli.run(home, "outstanding", "--app", APP, "--json");
      assertThat(outstanding.out()).doesNotContain("\uFFFD").doesNotContain("rich");
    }
  }

  @Test
  void aHugePayloadIsTooLargeAndDeepNestingIsTooDeepInTheProjectsWords() throws Exception {
    try (PairedDaemons d = PairedDaemons.start(tmp)) {
      Path home = d.primary.home();
      Path huge = tmp.resolve("huge.jsonl");
      try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(huge), 1 << 20)) {
        out.write("{\"blob\":\"".getBytes(StandardCharsets.US_ASCII));
        byte[] chunk = "x".repeat(1 << 20).getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < 100; i++) {
          out.write(chunk);
        }
        out.write("\"}\n".getBytes(StandardCharsets.US_ASCII));
      }
      Cli.Result tooLarge = Cli.run(home, "send", "userinfo", "--app", APP, "--from", huge.toString());
      Files.delete(huge);
      assertThat(tooLarge.exitCode()).as(tooLarge.toString()).isEqualTo(4);
      assertThat(tooLarge.err()).as(tooLarge.toString()).contains("[PAYLOAD_TOO_LARGE]").contains("line 1")
          .contains("the limit is 65536 bytes (64 KiB)");
      assertLibraryInternalsHidden(tooLarge.err());

      String deep = "{\"a\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}";
      Path deepFile = tmp.resolve("deep.jsonl");
      Files.writeString(deepFile, deep + "\n");
      Cli.Result fromFile = Cli.run(home, "send", "context", "--app", APP, "--from", deepFile.toString());
      Cli.Result asArgument = Cli.run(home, "send", "userinfo", "--app", APP, deep);
      for (Cli.Result r : List.of(fromFile, asArgument)) {
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(4);
        assertThat(r.err()).as(r.toString()).contains("nested too deep").contains("256 levels")
            .contains("[PAYLOAD_TOO_LARGE]");
        assertLibraryInternalsHidden(r.err());
      }
      assertThat(fromFile.err()).contains("application context").contains("line 1");
      assertThat(asArgument.err()).contains("user info");

      Cli.Result metadata = Cli.run(home, "send", "file", "--app", APP, deepFile.toString(), "--metadata", deep);
      assertThat(metadata.exitCode()).as(metadata.toString()).isEqualTo(4);
      assertThat(metadata.err()).contains("nested too deep").contains("[PAYLOAD_TOO_LARGE]");
      assertLibraryInternalsHidden(metadata.err());
    }
  }

  private static void assertLibraryInternalsHidden(String err) {
    assertThat(err).doesNotContain("Constraints").doesNotContain("jackson").doesNotContain("not valid JSON")
        .doesNotContain("Exception");
  }

  /**
   * Runs the CLI through {@code /bin/sh} so that {@code rawArg} (a {@code printf} format: octal escapes give raw bytes)
   * reaches it as the bytes themselves, the way a shell passes what the user typed, in a UTF-8 locale.
   */
  private static Cli.Result runWithRawArgument(Path home, String rawArg, String... args) throws Exception {
    List<String> java = new ArrayList<>(JavaProcesses.javaCommand("dev.tether.cli.Main", "--home", home.toString()));
    java.addAll(List.of(args));
    String script = java.stream().map(CliInputErrorsTest::quote).collect(Collectors.joining(" "))
        + " \"$(printf " + quote(rawArg) + ")\"";
    ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", script);
    pb.environment().put("LC_ALL", "C.UTF-8");
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    Path out = Files.createTempFile("cli", ".out");
    Path err = Files.createTempFile("cli", ".err");
    try {
      pb.redirectOutput(out.toFile());
      pb.redirectError(err.toFile());
      Process p = pb.start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("tether " + args[0] + " did not finish within 120 s");
      }
      return new Cli.Result(p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      deleteQuietly(out);
      deleteQuietly(err);
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // a temp file
    }
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }
}
