package dev.tether.daemon.internal.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.protocol.ErrorCode;
import dev.tether.protocol.TetherException;
import dev.tether.protocol.Json;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The task requests parsed at the IPC edge: defaults, and bad input refused with its code and message. */
class TaskRequestsTest {
  private static ObjectNode body(String json) {
    return (ObjectNode) Json.parse(json);
  }

  private static void refused(Runnable parse, ErrorCode code, String message) {
    assertThatThrownBy(parse::run).isInstanceOfSatisfying(TetherException.class, e -> {
      assertThat(e.code()).isEqualTo(code);
      assertThat(e.getMessage()).isEqualTo(message);
    });
  }

  @Test
  void registerNeedsALaunchCommandAndAValidAppId() {
    refused(() -> TaskRequests.Register.parse(body("{\"launch\": \"  \"}")), ErrorCode.INVALID_PARAMETER,
        "an app needs the command that launches it: --launch \"CMD\"");
    refused(() -> TaskRequests.Register.parse(body("{\"app\": \"-bad\", \"launch\": \"x\"}")), ErrorCode.INVALID_PARAMETER,
        "app id '-bad' is not valid: use reverse-DNS letters, digits, '.', '-' and '_' (e.g. com.example.weather)");
    ObjectNode tooLong = body("{}").put("launch", "x".repeat(8193));
    refused(() -> TaskRequests.Register.parse(tooLong), ErrorCode.INVALID_PARAMETER,
        "the launch command is longer than 8192 characters");

    TaskRequests.Register r = TaskRequests.Register.parse(body("{\"launch\": \" weather --bg \"}"));
    assertThat(r.app()).isNull();
    assertThat(r.launch()).isEqualTo("weather --bg");
  }

  @Test
  void settingsAreCheckedAndOnlyTheGivenOnesApplied() {
    refused(() -> TaskRequests.AppSettings.parse(body("{\"allowanceMs\": 999}")), ErrorCode.INVALID_PARAMETER,
        "the allowance per wake must be between 1 s and 1 h, not 999 ms");
    refused(() -> TaskRequests.AppSettings.parse(body("{\"wakesPerHour\": 3601}")), ErrorCode.INVALID_PARAMETER,
        "wakes per hour must be between 0 and 3600, not 3601");
    refused(() -> TaskRequests.AppSettings.parse(body("{\"wakesPerHour\": \"four\"}")), ErrorCode.INVALID_PARAMETER,
        "wakes per hour must be between 0 and 3600, not \"four\"");
    refused(() -> TaskRequests.AppSettings.parse(body("{\"dailyRuntimeMs\": -1}")), ErrorCode.INVALID_PARAMETER,
        "the daily runtime must be between 0 and 24 h, not -1 ms");
    refused(() -> TaskRequests.AppSettings.parse(body("{\"urlSessionSpacingMs\": 86400001}")),
        ErrorCode.INVALID_PARAMETER, "the URL-session spacing must be between 0 and 24 h, not 86400001 ms");

    AppConfig app = new AppConfig("com.example.weather");
    app.wakesPerHour = 3;
    TaskRequests.AppSettings.parse(body("{\"allowanceMs\": 5000, \"complicationActive\": true}")).applyTo(app);
    assertThat(app.allowance).isEqualTo(Duration.ofSeconds(5));
    assertThat(app.complicationActive).isTrue();
    assertThat(app.wakesPerHour).isEqualTo(3);
    assertThat(app.dailyRuntime).isEqualTo(AppConfig.DEFAULT_DAILY_RUNTIME);
    // an explicit null goes back to the default (4 with a complication)
    TaskRequests.AppSettings.parse(body("{\"wakesPerHour\": null}")).applyTo(app);
    assertThat(app.wakesPerHour).isNull();
    assertThat(app.effectiveWakesPerHour()).isEqualTo(4);
  }

  @Test
  void scheduleRefreshChecksItsUserInfo() {
    refused(() -> TaskRequests.ScheduleRefresh.parse(body("{\"userInfo\": [1]}")), ErrorCode.INVALID_PARAMETER,
        "userInfo must be a map with string keys");
    ObjectNode big = body("{}");
    big.putObject("userInfo").put("k", "x".repeat(64 * 1024));
    refused(() -> TaskRequests.ScheduleRefresh.parse(big), ErrorCode.PAYLOAD_TOO_LARGE, "userInfo is larger than 64 KiB");

    TaskRequests.ScheduleRefresh r = TaskRequests.ScheduleRefresh.parse(body("{\"preferredDate\": 1000, \"userInfo\": {\"a\": 1}}"));
    assertThat(r.preferredDate()).isEqualTo(Instant.ofEpochMilli(1000));
    assertThat(r.userInfo()).isEqualTo("{\"a\":1}");
    assertThat(TaskRequests.ScheduleRefresh.parse(body("{}")).preferredDate()).isNull();
  }

  @Test
  void triggerAndWithdrawNameAKindAndASession() {
    refused(() -> TaskRequests.Trigger.parse(body("{\"kind\": \"nap\"}")), ErrorCode.INVALID_PARAMETER,
        "unknown task kind 'nap': use appRefresh, urlSession or connectivity");
    refused(() -> TaskRequests.Trigger.parse(body("{\"kind\": \"urlSession\"}")), ErrorCode.INVALID_PARAMETER,
        "a URL-session task needs a session identifier");
    refused(() -> TaskRequests.Withdraw.parse(body("{\"kind\": \"appRefresh\"}")), ErrorCode.INVALID_PARAMETER,
        "only URL-session and connectivity tasks are withdrawn");

    TaskRequests.Trigger t = TaskRequests.Trigger.parse(body("{\"kind\": \"connectivity\", \"sessionIdentifier\": \"s\"}"));
    assertThat(t.sessionIdentifier()).isNull();
    assertThat(t.bypassBudget()).isTrue();
    assertThat(t.reason()).isEqualTo("triggered");
    TaskRequests.Trigger signalled = TaskRequests.Trigger.parse(body("{\"kind\": \"urlSession\", \"sessionIdentifier\": \"s\","
        + " \"bypassBudget\": false}"));
    assertThat(signalled.sessionIdentifier()).isEqualTo("s");
    assertThat(signalled.reason()).isEqualTo("signalled");
  }

  @Test
  void defaultsOfTheSmallRequests() {
    assertThat(TaskRequests.Timeline.parse(body("{}")).limit()).isEqualTo(TaskRequests.TIMELINE_LIMIT);
    assertThat(TaskRequests.Timeline.parse(body("{\"limit\": 0}")).limit()).isEqualTo(1);
    assertThat(TaskRequests.Timeline.parse(body("{\"limit\": 50000}")).limit()).isEqualTo(10_000);
    assertThat(TaskRequests.Foreground.parse(body("{}")).foreground()).isTrue();
    assertThat(TaskRequests.Stop.parse(body("{}")).force()).isFalse();
    assertThat(TaskRequests.Hold.parse(body("{}")).hold()).isFalse();
    assertThat(TaskRequests.Complete.parse(body("{\"id\": \"t\", \"failed\": true}")).error()).isEqualTo("the handler failed");
    assertThat(TaskRequests.Complete.parse(body("{\"id\": \"t\", \"error\": \"e\"}")).error()).isNull();
    assertThat(TaskRequests.Delivered.parse(body("{}")).wakeId()).isEmpty();
  }
}
