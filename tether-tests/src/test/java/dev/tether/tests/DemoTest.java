package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.tests.support.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command: {@code tether demo} shows the whole system and leaves nothing behind. */
class DemoTest {
  @TempDir Path tmp;

  @Test
  void demoShowsBothWakesAndCleansUp() throws Exception {
    Path work = Files.createDirectory(tmp.resolve("work"));
    Cli.Result r = Cli.run(null, "demo", "--work-dir", work.toString());
    assertThat(r.exitCode()).as(r.toString()).isZero();
    String out = r.out();
    // the primary app's own story, in order
    assertThat(out).containsSubsequence(
        "paired:",
        "primary app: started background download",
        "tetherd (primary) launched com.example.weather in the background with a URL-session task (session 'forecast')",
        "primary app: download finished",
        "primary app: sent complication update",
        "both tasks completed");
    // the companion's, which starts once the data is on its way: its launch may be printed before the primary app's
    // "sent" line (two processes report concurrently)
    assertThat(out).containsSubsequence(
        "primary app: download finished",
        "tetherd (companion) launched com.example.weather in the background with a connectivity task",
        "companion app: received from the paired device: {",
        "both tasks completed",
        "== timeline of the primary ==",
        "COMPLETED",
        "== timeline of the companion ==",
        "COMPLETED",
        "demo finished");
    Matcher pids = Pattern.compile("pid (\\d+)").matcher(out);
    while (pids.find()) {
      long pid = Long.parseLong(pids.group(1));
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("process %d still alive", pid).isFalse();
    }
    Matcher took = Pattern.compile("demo finished in ([0-9.]+)s").matcher(out);
    assertThat(took.find()).isTrue();
    assertThat(Double.parseDouble(took.group(1))).isLessThan(60);
    try (Stream<Path> left = Files.list(work)) {
      assertThat(left).as("the demo removes its temporary folder").isEmpty();
    }
  }
}
