package dev.tether.tests.support;

import java.io.File;
import java.util.ArrayList;
import java.util.List;

/** Command lines that run a main class of this test class path in a new JVM. */
public final class JavaProcesses {
  private JavaProcesses() {}

    public static String java() {
    return System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
  }

  public static List<String> javaCommand(String mainClass, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(java());
    cmd.add("-XX:+UseSerialGC");
    if (!mainClass.equals(TetherdJvm.MAIN)) {
      // CLI runs, receivers and apps live for seconds: compiling with C1 only saves about a third of their CPU (one
      // `tether send userinfo`: 1.07 -> 0.72 CPU-s). tetherd keeps C2, which a 200 MiB file between two daemons needs
      // (FileAndWakeTest with C1-only daemons: 59 s instead of 13-26 s).
      cmd.add("-XX:TieredStopAtLevel=1");
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    return cmd;
  }
}
