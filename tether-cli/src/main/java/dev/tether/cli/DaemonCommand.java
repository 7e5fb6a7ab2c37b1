package dev.tether.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.protocol.wire.DaemonOp;
import dev.tether.TetherException;
import dev.tether.daemon.Tetherd;
import dev.tether.internal.DaemonClient;
import dev.tether.internal.DaemonStarter;
import dev.tether.protocol.Json;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tether daemon run|start|stop|status}. */
@Command(name = "daemon", description = "Run, start, stop or inspect tetherd.",
    subcommands = {DaemonCommand.Run.class, DaemonCommand.Start.class, DaemonCommand.Stop.class, DaemonCommand.Status.class,
        DaemonCommand.Install.class})
public final class DaemonCommand {
  static TetherCommand root(CommandSpec spec) {
    return (TetherCommand) spec.root().userObject();
  }

  @Command(name = "run", description = "Run tetherd in the foreground until stopped.")
  static final class Run implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      Path home = root(spec).home();
      try {
        java.nio.file.Files.createDirectories(home);
      } catch (java.io.IOException e) {
        throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot run tetherd: its home " + home
            + " cannot be created (" + Main.describe(e) + "); choose another home (--home DIR or $TETHER_HOME)");
      }
      Tetherd.main(new String[] {"--home", home.toString()});
      return 0;
    }
  }

  @Command(name = "start", description = "Start tetherd in the background; returns once it accepts connections.")
  static final class Start implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      Path home = root(spec).home();
      try (DaemonClient c = root(spec).connectIfRunning(TetherCommand.CLI_APP_ID)) {
        spec.commandLine().getOut().println("tetherd is already running (pid " + c.welcome().path("pid").asLong()
            + ", home " + home + ")");
        return 0;
      } catch (TetherException e) {
        if (e.code() != ErrorCode.DAEMON_UNAVAILABLE) {
          throw e;
        }
      }
      Process p = DaemonStarter.start(home);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < deadline) {
        try (DaemonClient c = root(spec).connectIfRunning(TetherCommand.CLI_APP_ID)) {
          spec.commandLine().getOut().println("tetherd started (pid " + c.welcome().path("pid").asLong() + ", home " + home + ")");
          return 0;
        } catch (TetherException e) {
          if (!p.isAlive() && p.exitValue() != 0) {
            break;
          }
          sleep(25);
        }
      }
      throw new TetherException(ErrorCode.DAEMON_UNAVAILABLE, "tetherd did not start for home " + home + ": "
          + DaemonStarter.whyNotStarted(home, p));
    }
  }

  @Command(name = "stop", description = "Stop tetherd; returns once it has exited.")
  static final class Stop implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      long pid;
      try (DaemonClient c = root(spec).connectIfRunning(TetherCommand.CLI_APP_ID)) {
        pid = c.call(DaemonOp.STOP, Json.object()).path("pid").asLong();
      } catch (TetherException e) {
        if (e.code() == ErrorCode.DAEMON_UNAVAILABLE) {
          spec.commandLine().getOut().println("tetherd is not running (home " + root(spec).home() + ")");
          return 0;
        }
        throw e;
      }
      ProcessHandle.of(pid).ifPresent(h -> {
        try {
          h.onExit().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
          throw new TetherException(ErrorCode.TIMED_OUT, "tetherd (pid " + pid + ") did not exit within 30 s");
        }
      });
      spec.commandLine().getOut().println("tetherd stopped (pid " + pid + ")");
      return 0;
    }
  }

  @Command(name = "status", description = "Say whether tetherd runs, with its version, process id and home.")
  static final class Status implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() {
      Path home = root(spec).home();
      ObjectNode status;
      try (DaemonClient c = root(spec).connectIfRunning(TetherCommand.CLI_APP_ID)) {
        status = c.call(DaemonOp.STATUS, Json.object());
      } catch (TetherException e) {
        if (e.code() != ErrorCode.DAEMON_UNAVAILABLE) {
          throw e;
        }
        status = Json.object();
        status.put("running", false);
        status.put("home", home.toString());
      }
      var out = spec.commandLine().getOut();
      if (json) {
        out.println(Json.write(status));
      } else if (status.path("running").asBoolean()) {
        out.println("tetherd " + status.path("version").asText() + " is running: pid " + status.path("pid").asLong()
            + ", home " + status.path("home").asText() + ", since " + status.path("startedAt").asText()
            + ", " + status.path("connections").asInt() + " connection(s)"
            + (status.has("maxHeapBytes") ? ", heap cap " + status.path("maxHeapBytes").asLong() / (1024 * 1024) + " MiB" : ""));
      } else {
        out.println("tetherd is not running (home " + home + ")");
      }
      return status.path("running").asBoolean() ? 0 : 3;
    }
  }

  @Command(name = "install", description = {
      "Write a systemd user unit that runs tetherd for this home, and print how to enable it.",
      "Nothing is enabled or started: that stays the user's decision."})
  static final class Install implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--print", description = "Print the unit instead of writing it.")
    boolean print;

    @Option(names = "--unit-dir", paramLabel = "DIR", description = "Where to write the unit (default: $XDG_CONFIG_HOME/systemd/user, else ~/.config/systemd/user).")
    Path unitDir;

    @Override
    public Integer call() throws Exception {
      Path home = root(spec).home();
      String unit = SystemdUnit.render(home, SystemdUnit.durable(dev.tether.internal.DaemonStarter.command(home), home));
      var out = spec.commandLine().getOut();
      if (print) {
        out.print(unit);
        return 0;
      }
      Path dir = unitDir != null ? unitDir : SystemdUnit.defaultUnitDir(System.getenv());
      Path file = dir.resolve(SystemdUnit.UNIT_NAME);
      try {
        java.nio.file.Files.createDirectories(dir);
        java.nio.file.Files.writeString(file, unit);
      } catch (java.io.IOException e) {
        throw new TetherException(ErrorCode.FILE_ACCESS_DENIED, "cannot write " + file + " (" + Main.describe(e)
            + "); choose a folder you can write with --unit-dir, or print the unit with --print");
      }
      out.println("wrote " + file);
      out.println("to run tetherd at login:  systemctl --user daemon-reload && systemctl --user enable --now " + SystemdUnit.UNIT_NAME);
      out.println("to remove it:             systemctl --user disable --now " + SystemdUnit.UNIT_NAME + " && rm " + file);
      return 0;
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
