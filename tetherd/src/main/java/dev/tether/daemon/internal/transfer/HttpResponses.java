package dev.tether.daemon.internal.transfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.Header;

/**
 * Pure functions of HTTP answers, so any thread may call them (the attempts' workers do): what a status means for a
 * transfer (a challenge, a retry, {@code Retry-After}), redirects, ranges, validators and structured headers.
 */
final class HttpResponses {
  private HttpResponses() {}

  static void discard(ClassicHttpResponse resp) throws IOException {
    if (resp.getEntity() != null) {
      try (InputStream in = resp.getEntity().getContent()) {
        in.transferTo(OutputStream.nullOutputStream());
      }
    }
  }

  static String headerValue(ClassicHttpResponse resp, String name) {
    Header h = resp.getFirstHeader(name);
    return h == null ? null : h.getValue().trim();
  }

  /** A structured-field Integer header (RFC 8941), or -1 when missing or not a non-negative integer. */
  static long structuredInteger(ClassicHttpResponse resp, String name) {
    String v = headerValue(resp, name);
    if (v == null || v.isEmpty() || v.length() > 15) {
      return -1;
    }
    for (int i = 0; i < v.length(); i++) {
      if (v.charAt(i) < '0' || v.charAt(i) > '9') {
        return -1;
      }
    }
    return Long.parseLong(v);
  }

  /** Statuses that end or pause the attempt before any body: challenges, retryable errors. */
  static HttpAttempt.Outcome classify(ClassicHttpResponse resp, int code) {
    if (code == 401 || code == 407) {
      Header h = resp.getFirstHeader(code == 401 ? "WWW-Authenticate" : "Proxy-Authenticate");
      String scheme = "Basic";
      String realm = null;
      if (h != null) {
        String v = h.getValue().trim();
        int sp = v.indexOf(' ');
        scheme = sp < 0 ? v : v.substring(0, sp);
        int r = v.toLowerCase(Locale.ROOT).indexOf("realm=");
        if (r >= 0) {
          String rest = v.substring(r + 6).trim();
          if (rest.startsWith("\"")) {
            int end = rest.indexOf('"', 1);
            realm = end > 0 ? rest.substring(1, end) : rest.substring(1);
          } else {
            int end = rest.indexOf(',');
            realm = end > 0 ? rest.substring(0, end) : rest;
          }
        }
      }
      return new HttpAttempt.Challenge(code, scheme, realm, code == 407);
    }
    if (retryable(code)) {
      return new HttpAttempt.Retry(retryAfter(resp), "the server answered " + code + " " + resp.getReasonPhrase(), false, false);
    }
    return null;
  }

  /**
   * Answers that may go away by themselves and are tried again (until the resource timeout): request timeout, too
   * many requests, and server errors except those that say the request itself can never work there (501 Not
   * Implemented, 505 HTTP Version Not Supported, 506 Variant Also Negotiates, 508 Loop Detected, 510 Not Extended),
   * which end the transfer at once like a 4xx.
   */
  static boolean retryable(int code) {
    return code == 408 || code == 429
        || code >= 500 && code != 501 && code != 505 && code != 506 && code != 508 && code != 510;
  }

  static Duration retryAfter(ClassicHttpResponse resp) {
    Header h = resp.getFirstHeader("Retry-After");
    if (h == null) {
      return null;
    }
    String v = h.getValue().trim();
    try {
      return Duration.ofSeconds(Math.max(0, Long.parseLong(v)));
    } catch (NumberFormatException e) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(ZonedDateTime.now(at.getZone()), at);
        return d.isNegative() ? Duration.ZERO : d;
      } catch (RuntimeException e2) {
        return null;
      }
    }
  }

  static boolean isRedirect(int code) {
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
  }

  static URI resolve(URI base, String location) {
    try {
      return base.resolve(new URI(location.trim()));
    } catch (URISyntaxException | IllegalArgumentException e) {
      return null;
    }
  }

  static long contentRangeStart(ClassicHttpResponse resp) {
    Header h = resp.getFirstHeader("Content-Range");
    if (h == null) {
      return -1;
    }
    String v = h.getValue().trim();
    try {
      if (!v.startsWith("bytes ")) {
        return -1;
      }
      return Long.parseLong(v.substring(6, v.indexOf('-')).trim());
    } catch (RuntimeException e) {
      return -1;
    }
  }

  static boolean strong(String etag) {
    return etag != null && !etag.startsWith("W/");
  }
}
