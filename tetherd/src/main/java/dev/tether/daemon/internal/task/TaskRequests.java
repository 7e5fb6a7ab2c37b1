package dev.tether.daemon.internal.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.daemon.internal.ipc.ClientConnection;
import dev.tether.daemon.internal.ipc.IpcServer;
import dev.tether.protocol.Json;
import java.time.Duration;
import java.time.Instant;

/**
 * Immutable, any thread; parsed on the connection's reader thread at the IPC edge (see
 * {@link dev.tether.daemon.internal.ipc.RequestParser}): the task service's requests as records. Bad input is a
 * {@link TetherException} with the code and message the service always gave.
 */
final class TaskRequests {
  /** The number of wakes a timeline shows unless asked for another. */
  static final int TIMELINE_LIMIT = 100;

  private TaskRequests() {}

  /** A request without parameters. */
  record Empty() {
    private static final Empty INSTANCE = new Empty();

    static Empty parse(ObjectNode b) {
      return INSTANCE;
    }
  }

  /** A request about one app: {@code app}, or (null) the caller's own. */
  record ForApp(String app) {
    static ForApp parse(ObjectNode b) {
      return new ForApp(appField(b));
    }
  }

  /** {@code app.register}: the launch command and any budget settings. */
  record Register(String app, String launch, AppSettings settings) {
    static Register parse(ObjectNode b) {
      String app = appField(b);
      String launch = b.path("launch").asText("").trim();
      if (launch.isEmpty()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "an app needs the command that launches it: --launch \"CMD\"");
      }
      if (launch.length() > 8192) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "the launch command is longer than 8192 characters");
      }
      return new Register(app, launch, AppSettings.parse(b));
    }
  }

  /** {@code app.budget}: the budget settings to change. */
  record BudgetChange(String app, AppSettings settings) {
    static BudgetChange parse(ObjectNode b) {
      return new BudgetChange(appField(b), AppSettings.parse(b));
    }
  }

  /** An app's budget settings as given; a null field (or {@code setWakesPerHour} false) leaves the setting. */
  record AppSettings(Duration allowance, boolean setWakesPerHour, Integer wakesPerHour, Boolean complicationActive,
      Duration dailyRuntime, Duration urlSessionSpacing) {
    static AppSettings parse(ObjectNode b) {
      Duration allowance = null;
      if (b.has("allowanceMs")) {
        long ms = b.path("allowanceMs").asLong(-1);
        if (ms < 1000 || ms > 3_600_000) {
          throw new TetherException(ErrorCode.INVALID_PARAMETER, "the allowance per wake must be between 1 s and 1 h, not " + ms + " ms");
        }
        allowance = Duration.ofMillis(ms);
      }
      Integer wakesPerHour = null;
      boolean setWakesPerHour = b.has("wakesPerHour");
      if (setWakesPerHour) {
        JsonNode n = b.get("wakesPerHour");
        if (!n.isNull()) {
          int v = n.asInt(-1);
          if (!n.canConvertToInt() || v < 0 || v > 3600) {
            throw new TetherException(ErrorCode.INVALID_PARAMETER, "wakes per hour must be between 0 and 3600, not " + n);
          }
          wakesPerHour = v;
        }
      }
      Boolean complication = b.has("complicationActive") ? b.path("complicationActive").asBoolean() : null;
      Duration daily = null;
      if (b.has("dailyRuntimeMs")) {
        long ms = b.path("dailyRuntimeMs").asLong(-1);
        if (ms < 0 || ms > Duration.ofDays(1).toMillis()) {
          throw new TetherException(ErrorCode.INVALID_PARAMETER, "the daily runtime must be between 0 and 24 h, not " + ms + " ms");
        }
        daily = Duration.ofMillis(ms);
      }
      Duration spacing = null;
      if (b.has("urlSessionSpacingMs")) {
        long ms = b.path("urlSessionSpacingMs").asLong(-1);
        if (ms < 0 || ms > Duration.ofDays(1).toMillis()) {
          throw new TetherException(ErrorCode.INVALID_PARAMETER, "the URL-session spacing must be between 0 and 24 h, not " + ms + " ms");
        }
        spacing = Duration.ofMillis(ms);
      }
      return new AppSettings(allowance, setWakesPerHour, wakesPerHour, complication, daily, spacing);
    }

    /** Sets what was given on {@code app}. */
    void applyTo(AppConfig app) {
      if (allowance != null) {
        app.allowance = allowance;
      }
      if (setWakesPerHour) {
        app.wakesPerHour = wakesPerHour;
      }
      if (complicationActive != null) {
        app.complicationActive = complicationActive;
      }
      if (dailyRuntime != null) {
        app.dailyRuntime = dailyRuntime;
      }
      if (urlSessionSpacing != null) {
        app.urlSessionSpacing = urlSessionSpacing;
      }
    }
  }

  /** {@code app.stop}: ask the app to exit, or force-quit it. */
  record Stop(String app, boolean force) {
    static Stop parse(ObjectNode b) {
      return new Stop(appField(b), b.path("force").asBoolean(false));
    }
  }

  /** {@code app.foreground}: the connection declares itself in the foreground or the background. */
  record Foreground(boolean foreground) {
    static Foreground parse(ObjectNode b) {
      return new Foreground(b.path("foreground").asBoolean(true));
    }
  }

  /** {@code timeline}: the wakes of one app (or all) and how many. */
  record Timeline(String app, int limit) {
    static Timeline parse(ObjectNode b) {
      return new Timeline(b.path("app").asText(null), Math.max(1, Math.min(10_000, b.path("limit").asInt(TIMELINE_LIMIT))));
    }
  }

  /** {@code task.delivered}: the app received a push of its wake. */
  record Delivered(String wakeId) {
    static Delivered parse(ObjectNode b) {
      return new Delivered(b.path("wakeId").asText(""));
    }
  }

  /** {@code task.complete}: a task's handler finished, or failed with {@code error}. */
  record Complete(String id, boolean failed, String error) {
    static Complete parse(ObjectNode b) {
      boolean failed = b.path("failed").asBoolean(false);
      return new Complete(b.path("id").asText(""), failed, failed ? b.path("error").asText("the handler failed") : null);
    }
  }

  /** {@code task.scheduleRefresh}: an application refresh at or after {@code preferredDate} (null: now). */
  record ScheduleRefresh(String app, Instant preferredDate, String userInfo) {
    static ScheduleRefresh parse(ObjectNode b) {
      String app = appField(b);
      Instant preferred = b.has("preferredDate") ? Instant.ofEpochMilli(b.path("preferredDate").asLong()) : null;
      JsonNode userInfo = b.path("userInfo");
      if (!userInfo.isMissingNode() && !userInfo.isNull() && !userInfo.isObject()) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "userInfo must be a map with string keys");
      }
      String info = userInfo.isObject() ? Json.write(userInfo) : null;
      if (info != null && info.length() > 64 * 1024) {
        throw new TetherException(ErrorCode.PAYLOAD_TOO_LARGE, "userInfo is larger than 64 KiB");
      }
      return new ScheduleRefresh(app, preferred, info);
    }
  }

  /** {@code task.trigger}: queue a task as a capability would, by default over budget. */
  record Trigger(String app, TaskKind kind, String sessionIdentifier, String userInfo, boolean bypassBudget,
      String reason) {
    static Trigger parse(ObjectNode b) {
      String app = appField(b);
      TaskKind kind = TaskKind.fromWire(b.path("kind").asText(""));
      String session = b.path("sessionIdentifier").asText(null);
      if (kind == TaskKind.URL_SESSION && (session == null || session.isBlank())) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "a URL-session task needs a session identifier");
      }
      JsonNode userInfo = b.path("userInfo");
      String info = userInfo.isObject() ? Json.write(userInfo) : null;
      boolean bypass = b.path("bypassBudget").asBoolean(true);
      return new Trigger(app, kind, kind == TaskKind.URL_SESSION ? session : null, info, bypass,
          b.path("reason").asText(bypass ? "triggered" : "signalled"));
    }
  }

  /** {@code task.withdraw}: drop a URL-session or connectivity task not yet handed over. */
  record Withdraw(String app, TaskKind kind, String sessionIdentifier) {
    static Withdraw parse(ObjectNode b) {
      String app = appField(b);
      TaskKind kind = TaskKind.fromWire(b.path("kind").asText(""));
      if (kind == TaskKind.APP_REFRESH) {
        throw new TetherException(ErrorCode.INVALID_PARAMETER, "only URL-session and connectivity tasks are withdrawn");
      }
      return new Withdraw(app, kind, kind == TaskKind.URL_SESSION ? b.path("sessionIdentifier").asText(null) : null);
    }
  }

  /** {@code task.hold}: hold budgeted wakes (the test kit's conditions) or let them go. */
  record Hold(boolean hold) {
    static Hold parse(ObjectNode b) {
      return new Hold(b.path("hold").asBoolean(false));
    }
  }

  /** The request's {@code app} field, checked, or null when absent (the caller's own app). */
  private static String appField(ObjectNode b) {
    String app = b.path("app").asText(null);
    if (app != null && !IpcServer.APP_ID.matcher(app).matches()) {
      throw new TetherException(ErrorCode.INVALID_PARAMETER, "app id '" + app + "' is not valid: use reverse-DNS letters,"
          + " digits, '.', '-' and '_' (e.g. com.example.weather)");
    }
    return app;
  }

  /**
   * The app a request acts on: the one it names (the CLI and the test kit act for any app; an app only for itself),
   * else the caller's.
   */
  static String target(ClientConnection c, String app) {
    if (app == null) {
      return c.appId();
    }
    if (!AppConnections.actsForUser(c) && !app.equals(c.appId())) {
      throw new TetherException(ErrorCode.PERMISSION_DENIED, "app " + c.appId() + " cannot act for app " + app
          + "; an app acts only for itself (the tether CLI acts for any app)");
    }
    return app;
  }
}
