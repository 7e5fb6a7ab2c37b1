package dev.tether.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The public API is a checked file: the signatures of {@code dev.tether} (tether-client) and {@code dev.tether.testing}
 * (this kit) are committed under {@code api/}, and any difference from the compiled classes fails here with a diff.
 * After an intended change, rewrite the files with {@value #UPDATE_COMMAND} and commit them with the change.
 */
class PublicApiTest {
  static final String UPDATE_COMMAND = "./mvnw verify -pl tether-testing -am -Dtest=PublicApiTest"
      + " -Dsurefire.failIfNoSpecifiedTests=false -Dtether.api.update=true";

  @ParameterizedTest(name = "{0}")
  @CsvSource({"tether-client.api, dev.tether", "tether-testing.api, dev.tether.testing"})
  void theCompiledApiIsTheCommittedOne(String file, String packageName) throws IOException {
    Path path = apiFolder().resolve(file);
    String generated = "# The public API of package " + packageName + ", generated from the compiled classes by"
        + " PublicApiTest (tether-testing).\n# After an intended change, regenerate it: " + UPDATE_COMMAND + "\n\n"
        + ApiListing.of(packageName);
    String committed = Files.exists(path) ? Files.readString(path, StandardCharsets.UTF_8) : "";
    if (generated.equals(committed)) {
      return;
    }
    if (Boolean.getBoolean("tether.api.update")) {
      Files.createDirectories(path.getParent());
      Files.writeString(path, generated, StandardCharsets.UTF_8);
      return;
    }
    fail("the public API of " + packageName + " differs from " + path.normalize() + " (- committed, + compiled):\n"
        + diff(committed, generated) + "\nIf the change is intended, regenerate the file and commit it:\n  "
        + UPDATE_COMMAND + "\n");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"dev.tether", "dev.tether.testing"})
  void publicSignaturesNameOnlyTheJdkAndTheApiPackages(String packageName) {
    Set<String> allowed = Set.of("dev.tether", "dev.tether.testing");
    Set<String> foreign = new TreeSet<>();
    for (String name : ApiListing.referencedTypes(packageName)) {
      String pkg = name.substring(0, name.lastIndexOf('.'));
      if (!pkg.startsWith("java.") && !allowed.contains(pkg)) {
        foreign.add(name);
      }
    }
    assertThat(foreign).as("types of internal or third-party packages named by the public signatures of %s", packageName)
        .isEmpty();
  }

  private static Path apiFolder() {
    return Path.of(System.getProperty("basedir", ".")).toAbsolutePath().getParent().resolve("api");
  }

  /**
   * The lines that differ between {@code a} and {@code b} (a longest common subsequence), each run with one line of
   * context and headed by the type it is in.
   */
  static String diff(String a, String b) {
    List<String> x = Arrays.asList(a.split("\n", -1));
    List<String> y = Arrays.asList(b.split("\n", -1));
    int[][] lcs = new int[x.size() + 1][y.size() + 1];
    for (int i = x.size() - 1; i >= 0; i--) {
      for (int j = y.size() - 1; j >= 0; j--) {
        lcs[i][j] = x.get(i).equals(y.get(j)) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    List<String> lines = new ArrayList<>();
    int i = 0;
    int j = 0;
    while (i < x.size() || j < y.size()) {
      if (i < x.size() && j < y.size() && x.get(i).equals(y.get(j))) {
        lines.add("  " + x.get(i));
        i++;
        j++;
      } else if (i < x.size() && (j == y.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
        lines.add("- " + x.get(i++));
      } else {
        lines.add("+ " + y.get(j++));
      }
    }
    StringBuilder out = new StringBuilder();
    String type = null;
    boolean inHunk = false;
    for (int k = 0; k < lines.size(); k++) {
      String line = lines.get(k);
      boolean near = false;
      for (int d = -1; d <= 1; d++) {
        int n = k + d;
        near |= n >= 0 && n < lines.size() && !lines.get(n).startsWith("  ");
      }
      if (near && !inHunk && type != null && !line.endsWith(" {")) {
        out.append("@@ ").append(type).append('\n'); // the type the hunk is in
      }
      if (near) {
        out.append(line).append('\n');
      }
      inHunk = near;
      if (line.startsWith("  ") && line.endsWith(" {")) {
        type = line.substring(2, line.length() - 2);
      }
    }
    return out.toString();
  }
}
