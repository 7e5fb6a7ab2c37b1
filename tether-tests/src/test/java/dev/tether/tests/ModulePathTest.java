package dev.tether.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.DaemonOp;
import dev.tether.tests.support.JavaProcesses;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every jar of Tether has a module name and works on the module path: the built jars and their dependencies resolve
 * as modules (which fails when a package is split between two jars, as {@code dev.tether} once was between
 * tether-protocol and tether-client), and an app that is a named module, {@code requires dev.tether}, compiles, starts
 * tetherd on the module path and talks to it through the public API. Needs the packaged jars ({@code ./mvnw verify}).
 */
class ModulePathTest {
  /** Each jar's module name, by the start of its file name. */
  private static final Map<String, String> MODULES = new LinkedHashMap<>();

  static {
    MODULES.put("tether-protocol-", "dev.tether.protocol");
    MODULES.put("tether-client-", "dev.tether");
    MODULES.put("tetherd-", "dev.tether.daemon");
    MODULES.put("tether-cli-", "dev.tether.cli");
    MODULES.put("tether-testing-", "dev.tether.testing");
    MODULES.put("tether-examples-", "dev.tether.examples");
  }

  @TempDir Path tmp;

  @Test
  void everyJarIsANamedModuleAndNoPackageIsSplit() {
    List<Path> path = modulePath();
    Map<String, String> names = new TreeMap<>();
    for (Path jar : path) {
      for (Map.Entry<String, String> m : MODULES.entrySet()) {
        if (jar.getFileName().toString().startsWith(m.getKey())) {
          ModuleDescriptor d = ModuleFinder.of(jar).findAll().iterator().next().descriptor();
          names.put(m.getValue(), d.name());
        }
      }
    }
    assertThat(names).as("module names of %s", path).containsExactlyInAnyOrderEntriesOf(
        MODULES.values().stream().collect(Collectors.toMap(n -> n, n -> n)));

    // resolving them all fails on a package in two modules; and the app API's package is in the client's module only
    ModuleFinder finder = ModuleFinder.of(path.toArray(Path[]::new));
    Configuration resolved = Configuration.resolve(finder, List.of(ModuleLayer.boot().configuration()), ModuleFinder.of(),
        MODULES.values());
    Map<String, List<String>> owners = new TreeMap<>();
    for (ModuleReference m : finder.findAll()) {
      for (String p : m.descriptor().packages()) {
        owners.computeIfAbsent(p, k -> new ArrayList<>()).add(m.descriptor().name());
      }
    }
    assertThat(owners.entrySet().stream().filter(e -> e.getValue().size() > 1)).as("packages in more than one jar").isEmpty();
    assertThat(owners.get("dev.tether")).containsExactly("dev.tether");
    assertThat(resolved.findModule("dev.tether")).isPresent();
  }

  @Test
  void anAppThatIsANamedModuleStartsTetherdAndUsesThePublicApi() throws Exception {
    List<Path> path = modulePath();
    String modulePath = path.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator));
    Path src = tmp.resolve("src/tether.modulepath.app");
    Files.createDirectories(src.resolve("app"));
    Files.writeString(src.resolve("module-info.java"), "module tether.modulepath.app {\n  requires dev.tether;\n}\n");
    Files.writeString(src.resolve("app/Main.java"), """
        package app;

        import dev.tether.ErrorCode;
        import dev.tether.SessionConfiguration;
        import dev.tether.Tether;
        import dev.tether.TetherException;
        import dev.tether.TetherOptions;
        import dev.tether.UrlSessionDelegate;
        import java.net.URI;
        import java.nio.file.Path;

        public final class Main {
          public static void main(String[] args) {
            // starts tetherd, on this JVM's module path
            try (Tether tether = Tether.connect("com.example.modulepath", TetherOptions.defaults().home(Path.of(args[0])))) {
              System.out.println("api in module " + Tether.class.getModule().getName() + ", tetherd " + tether.daemonVersion());
              try {
                tether.urlSession(SessionConfiguration.background("m").build(), new UrlSessionDelegate() {})
                    .download(URI.create("ftp://example.com/file")).start();
              } catch (TetherException e) {
                System.out.println("refused with " + (e.code() == ErrorCode.INVALID_URL ? "INVALID_URL" : e.code().toString()));
              }
            }
          }
        }
        """);
    Path classes = tmp.resolve("classes");
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream errors = new ByteArrayOutputStream();
    int compiled = javac.run(null, errors, errors, "--release", "17", "-d", classes.toString(), "--module-path", modulePath,
        "--module-source-path", tmp.resolve("src").toString(), "-m", "tether.modulepath.app");
    assertThat(compiled).as(errors.toString(StandardCharsets.UTF_8)).isZero();

    Path home = tmp.resolve("home");
    Path out = tmp.resolve("app.out");
    List<String> cmd = List.of(JavaProcesses.java(), "-XX:TieredStopAtLevel=1", "-p", modulePath + File.pathSeparator + classes,
        "--add-modules", "ALL-MODULE-PATH", "-m", "tether.modulepath.app/app.Main", home.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().remove("TETHER_HOME");
    pb.environment().remove("TETHER_DAEMON_COMMAND");
    pb.environment().remove("TETHER_NO_AUTOSTART");
    Process app = pb.start();
    try {
      assertThat(app.waitFor(90, TimeUnit.SECONDS)).as("the app finished").isTrue();
      String printed = Files.readString(out);
      assertThat(app.exitValue()).as(printed + daemonOutput(home)).isZero();
      assertThat(printed).contains("api in module dev.tether, tetherd ").contains("refused with INVALID_URL");
    } finally {
      app.destroyForcibly();
      stopDaemon(home);
    }
  }

  /** The built jars of Tether and everything they need at run time, as the packaged tether-cli lists them. */
  private static List<Path> modulePath() {
    Map<String, Path> jars = new LinkedHashMap<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(entry);
      String name = p.getFileName().toString();
      if (name.startsWith("tether-cli-") || name.startsWith("tether-testing-")) {
        jars.put(name, p);
      }
    }
    Path cli = jars.values().stream().filter(p -> p.getFileName().toString().startsWith("tether-cli-")).findFirst().orElse(null);
    Path runtime = cli == null ? null : cli.resolveSibling("classpath.txt");
    Assumptions.assumeTrue(cli != null && cli.toString().endsWith(".jar") && Files.exists(runtime)
        && jars.keySet().stream().anyMatch(n -> n.startsWith("tether-testing-") && n.endsWith(".jar")),
        "the module path test needs the packaged jars: run it with ./mvnw verify (class path: "
            + System.getProperty("java.class.path") + ")");
    List<Path> path = new ArrayList<>();
    try {
      for (String e : Files.readString(runtime).strip().split(File.pathSeparator)) {
        path.add(Path.of(e));
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    path.addAll(jars.values());
    return path;
  }

  private static String daemonOutput(Path home) {
    try {
      Path out = home.resolve("logs/tetherd.out");
      return Files.exists(out) ? "\ntetherd.out:\n" + Files.readString(out) : "";
    } catch (IOException e) {
      return "";
    }
  }

  private static void stopDaemon(Path home) {
    Optional<ProcessHandle> daemon = Optional.empty();
    try (DaemonClient c = DaemonClient.connect(home, "dev.tether.tests", Json.object(), false)) {
      daemon = ProcessHandle.of(c.welcome().path("pid").asLong());
      c.call(DaemonOp.STOP, Json.object());
    } catch (RuntimeException e) {
      // not running (it did not start, or stopped already)
    }
    daemon.ifPresent(p -> {
      try {
        p.onExit().get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        p.destroyForcibly();
      }
    });
  }
}
