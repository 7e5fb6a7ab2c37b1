package dev.tether.daemon.internal;

import dev.tether.daemon.internal.time.TetherClock;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * How a daemon is run: its home, its clock, and settings a test or the test kit can change. Immutable; build with
 * {@link #builder(Path)}.
 */
public final class DaemonOptions {
  private final Path home;
  private final TetherClock clock;
  private final Map<String, Object> extras;

  private DaemonOptions(Builder b) {
    this.home = b.home;
    this.clock = b.clock;
    this.extras = Map.copyOf(b.extras);
  }

  public static Builder builder(Path home) {
    return new Builder(home);
  }

  public Path home() {
    return home;
  }

  /** The clock to use, or null for the system clock. */
  public TetherClock clock() {
    return clock;
  }

  /** A capability-specific setting (e.g. the launcher the test kit uses), or null. */
  public <T> T extra(String key, Class<T> type) {
    Object v = extras.get(key);
    return v == null ? null : type.cast(v);
  }

  public static final class Builder {
    private final Path home;
    private TetherClock clock;
    private final Map<String, Object> extras = new HashMap<>();

    private Builder(Path home) {
      this.home = home;
    }

    public Builder clock(TetherClock clock) {
      this.clock = clock;
      return this;
    }

    public Builder extra(String key, Object value) {
      extras.put(key, value);
      return this;
    }

    public DaemonOptions build() {
      return new DaemonOptions(this);
    }
  }
}
