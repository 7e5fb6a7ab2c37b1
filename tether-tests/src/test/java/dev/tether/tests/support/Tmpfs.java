package dev.tether.tests.support;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Small tmpfs mounts for full-disk tests (root only): mount, grow, and a lazy unmount when a plain one fails. */
public final class Tmpfs {
  private Tmpfs() {}

  /** Mounts a tmpfs of {@code size} (e.g. "32m") on {@code dir}; false when that is not permitted here. */
  public static boolean mount(Path dir, String size) throws IOException, InterruptedException {
    return "root".equals(System.getProperty("user.name")) && run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString()) == 0;
  }

  /** Changes the size of the tmpfs on {@code dir}. */
  public static boolean resize(Path dir, String size) throws IOException, InterruptedException {
    return run("mount", "-o", "remount,size=" + size, dir.toString()) == 0;
  }

  /** Unmounts {@code dir}, lazily when something still holds it. */
  public static void unmount(Path dir) throws IOException, InterruptedException {
    if (run("umount", dir.toString()) != 0) {
      run("umount", "-l", dir.toString());
    }
  }

  private static int run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }
}
