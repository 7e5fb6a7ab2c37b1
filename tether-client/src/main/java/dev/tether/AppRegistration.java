package dev.tether;

import java.time.Duration;
import java.util.Objects;

/**
 * How tetherd launches an app in the background and how much background time it gets. Immutable; build with
 * {@link #launchCommand(String)} and register with {@link Tether#register(AppRegistration)} (or
 * {@code tether app register ID --launch CMD}).
 *
 * <pre>{@code
 * tether.register(AppRegistration.launchCommand("java -jar /opt/weather/weather.jar")
 *     .complicationActive(true)
 *     .allowance(Duration.ofSeconds(20)));
 * }</pre>
 */
public final class AppRegistration {
  private final String launchCommand;
  private final Duration allowance;
  private final Integer wakesPerHour;
  private final Boolean complicationActive;
  private final Duration dailyRuntime;

  private AppRegistration(String launchCommand, Duration allowance, Integer wakesPerHour, Boolean complicationActive,
      Duration dailyRuntime) {
    this.launchCommand = launchCommand;
    this.allowance = allowance;
    this.wakesPerHour = wakesPerHour;
    this.complicationActive = complicationActive;
    this.dailyRuntime = dailyRuntime;
  }

  /** A registration launching the app with {@code command} (run by {@code /bin/sh -c}), default budgets. */
  public static AppRegistration launchCommand(String command) {
    Objects.requireNonNull(command, "command");
    return new AppRegistration(command, null, null, null, null);
  }

  /** The time each wake gets before its tasks expire (default 30 s). */
  public AppRegistration allowance(Duration allowance) {
    return new AppRegistration(launchCommand, Objects.requireNonNull(allowance), wakesPerHour, complicationActive, dailyRuntime);
  }

  /** Refresh and URL-session wakes allowed per rolling hour (default 4 with an active complication, else 1). */
  public AppRegistration wakesPerHour(int wakes) {
    return new AppRegistration(launchCommand, allowance, wakes, complicationActive, dailyRuntime);
  }

  /** Whether the app shows a complication on the active face (raises the default budget to 4 wakes per hour). */
  public AppRegistration complicationActive(boolean active) {
    return new AppRegistration(launchCommand, allowance, wakesPerHour, active, dailyRuntime);
  }

  /** Background runtime allowed per rolling day, overrun penalties included (default 15 min). */
  public AppRegistration dailyRuntime(Duration runtime) {
    return new AppRegistration(launchCommand, allowance, wakesPerHour, complicationActive, Objects.requireNonNull(runtime));
  }

  public String launchCommand() {
    return launchCommand;
  }

  /** Writes the registration as the body of the daemon's {@code app.register} request. */
  com.fasterxml.jackson.databind.node.ObjectNode toJson() {
    var o = dev.tether.protocol.Json.object();
    o.put("launch", launchCommand);
    if (allowance != null) {
      o.put("allowanceMs", allowance.toMillis());
    }
    if (wakesPerHour != null) {
      o.put("wakesPerHour", wakesPerHour);
    }
    if (complicationActive != null) {
      o.put("complicationActive", complicationActive);
    }
    if (dailyRuntime != null) {
      o.put("dailyRuntimeMs", dailyRuntime.toMillis());
    }
    return o;
  }

  @Override
  public String toString() {
    return "AppRegistration[" + launchCommand + "]";
  }
}
