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
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    return cmd;
  }
}
