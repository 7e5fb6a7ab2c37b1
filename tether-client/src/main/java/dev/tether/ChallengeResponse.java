package dev.tether;

import java.util.Objects;

/** The delegate's answer to an {@link AuthenticationChallenge}. */
public final class ChallengeResponse {
  /** What to do with the challenge. */
  public enum Disposition {
    /** Retry with the given user and password (sent as HTTP Basic). */
    USE_CREDENTIAL,
    /** Cancel the transfer; it completes with {@link ErrorCode#CANCELLED}. */
    CANCEL,
    /** No credential: the transfer completes with {@link ErrorCode#HTTP_ERROR} and the 401/407 status. */
    PERFORM_DEFAULT
  }

  private final Disposition disposition;
  private final String user;
  private final String password;

  private ChallengeResponse(Disposition disposition, String user, String password) {
    this.disposition = disposition;
    this.user = user;
    this.password = password;
  }

  public static ChallengeResponse useCredential(String user, String password) {
    return new ChallengeResponse(Disposition.USE_CREDENTIAL, Objects.requireNonNull(user, "user"), Objects.requireNonNull(password, "password"));
  }

  public static ChallengeResponse cancel() {
    return new ChallengeResponse(Disposition.CANCEL, null, null);
  }

  public static ChallengeResponse performDefault() {
    return new ChallengeResponse(Disposition.PERFORM_DEFAULT, null, null);
  }

  public Disposition disposition() {
    return disposition;
  }

  /** The user name, for {@link Disposition#USE_CREDENTIAL}; else null. */
  public String user() {
    return user;
  }

  /** The password, for {@link Disposition#USE_CREDENTIAL}; else null. */
  public String password() {
    return password;
  }

  @Override
  public String toString() {
    return "ChallengeResponse[" + disposition + (user == null ? "" : " user=" + user) + "]";
  }
}
