package dev.tether.daemon.internal.task;

import dev.tether.daemon.internal.time.TetherClock;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs once on the thread that starts the daemon, before the task thread ({@code tether-tasks}) takes any work
 * (handing work to it publishes what was loaded): loads the task service's state and repairs what a previous tetherd
 * left. Its wakes still open are ended (their processes, if still ours, killed), recorded as KILLED and not charged,
 * and their tasks given back; no app is in the foreground.
 */
final class StartRecovery {
  private static final Logger log = LoggerFactory.getLogger(StartRecovery.class);

  private StartRecovery() {}

  static void run(TaskStore db, AppRegistry apps, TaskQueue queue, WakeAdmission admission, TetherClock clock) {
    Instant now = clock.now();
    apps.load();
    queue.load();
    // Wakes left open by a daemon that stopped or was killed: end their processes and give their tasks back.
    for (TaskStore.OpenWakeRow row : db.openWakes()) {
      String id = row.id();
      long started = row.startedAt();
      Long pid = row.pid();
      if (pid != null && row.launched()) {
        ProcessHandle.of(pid).ifPresent(h -> {
          boolean ours = h.info().startInstant().map(s -> !s.isBefore(Instant.ofEpochMilli(started).minusSeconds(5))).orElse(false);
          if (ours) {
            log.info("ending process {} left from wake {} of a previous tetherd", pid, id);
            h.descendants().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
          }
        });
      }
      long duration = Math.max(0, now.toEpochMilli() - started);
      queue.giveBack(id);
      db.endLeftOpenWake(id, now, duration);
    }
    // No app is connected after a start.
    db.clearForeground();
    // No wake is open after a start: completed tasks whose wake was not recorded as ended are done; the others wait again.
    queue.reopenAfterStart();
    admission.load(db.recentWakes(now.minus(Budget.DAY)));
    log.info("task service: {} app(s) registered, {} task(s) pending", apps.size(), queue.size());
  }
}
