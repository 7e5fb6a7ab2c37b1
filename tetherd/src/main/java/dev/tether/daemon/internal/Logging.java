package dev.tether.daemon.internal;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.util.FileSize;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Sends the daemon's log to {@code HOME/logs/tetherd.log}, rolled daily and at 10 MiB, 14 files kept. */
public final class Logging {
  private Logging() {}

  public static synchronized void toHome(Path logDir, boolean alsoStderr) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return;
    }
    ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    if (root.getAppender("HOME") != null) {
      return;
    }
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(ctx);
    encoder.setPattern("%d{yyyy-MM-dd'T'HH:mm:ss.SSSZ} %-5level [%thread] %logger{30} - %msg%n");
    encoder.start();
    RollingFileAppender<ILoggingEvent> file = new RollingFileAppender<>();
    file.setContext(ctx);
    file.setName("HOME");
    file.setFile(logDir.resolve("tetherd.log").toString());
    SizeAndTimeBasedRollingPolicy<ILoggingEvent> policy = new SizeAndTimeBasedRollingPolicy<>();
    policy.setContext(ctx);
    policy.setParent(file);
    policy.setFileNamePattern(logDir.resolve("tetherd.%d{yyyy-MM-dd}.%i.log").toString());
    policy.setMaxFileSize(FileSize.valueOf("10MB"));
    policy.setMaxHistory(14);
    policy.setTotalSizeCap(FileSize.valueOf("200MB"));
    policy.start();
    file.setRollingPolicy(policy);
    file.setEncoder(encoder);
    file.start();
    root.addAppender(file);
    if (!alsoStderr) {
      root.detachAppender("STDERR");
    }
    String level = System.getProperty("tether.log.level", "INFO");
    root.setLevel(Level.toLevel(level, Level.INFO));
  }
}
