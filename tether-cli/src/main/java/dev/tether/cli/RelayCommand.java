package dev.tether.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tether.ErrorCode;
import dev.tether.TetherException;
import dev.tether.internal.DaemonClient;
import dev.tether.protocol.Json;
import dev.tether.protocol.wire.ConnectivityOp;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tether relay set|clear|status}: the MQTT broker links go through when the peer is not reachable directly. */
@Command(name = "relay", description = {
    "Set, clear or show the MQTT broker that relays links to a paired device not reachable directly.",
    "Each device of a pair sets it. The link's mutual TLS runs end to end: the broker sees only TLS records."},
    subcommands = {RelayCommand.Set.class, RelayCommand.Clear.class, RelayCommand.Status.class})
public final class RelayCommand {
  static void print(CommandSpec spec, ObjectNode r, boolean json) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(Json.write(r));
      return;
    }
    if (r.path("broker").isNull() || r.path("broker").isMissingNode()) {
      out.println("no relay: links are direct only");
      return;
    }
    String user = r.hasNonNull("username") ? "  user " + r.path("username").asText()
        + (r.path("passwordSet").asBoolean() ? " (password set)" : " (no password)") : "";
    String ca = r.path("tls").asBoolean()
        ? (r.path("customCa").asBoolean() ? "  TLS, CA bundle from --ca-file" : "  TLS, JDK trust store") : "";
    out.println("relay " + r.path("broker").asText() + "  " + (r.path("connected").asBoolean() ? "connected" : "not connected")
        + user + ca + "  " + r.path("streams").asInt() + " stream(s)");
    JsonNode cert = r.path("clientCert");
    if (cert.isObject()) {
      out.println("client certificate " + cert.path("subject").asText() + " (issued by " + cert.path("issuer").asText()
          + ", " + validity(cert) + ")");
    }
    if (r.hasNonNull("lastError")) {
      out.println("last error at " + r.path("lastErrorAt").asText() + ": " + r.path("lastError").asText());
    }
  }

  /** A client certificate's validity in words: valid until, expired at, or not valid before. */
  static String validity(JsonNode cert) {
    if (cert.path("expired").asBoolean()) {
      return "EXPIRED at " + cert.path("notAfter").asText();
    }
    if (cert.path("notYetValid").asBoolean()) {
      return "NOT VALID before " + cert.path("notBefore").asText();
    }
    return "valid until " + cert.path("notAfter").asText();
  }

  /** The environment variable {@code relay set --username} takes the password from when no --password-file is given. */
  public static final String ENV_PASSWORD = "TETHER_RELAY_PASSWORD";

  private static TetherException invalid(String message) {
    return new TetherException(ErrorCode.INVALID_PARAMETER, message);
  }

  /** The first line of {@code file} (without its line end); a typed error when it cannot be read or is empty. */
  static String passwordFrom(Path file) {
    String line;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(Files.newInputStream(file),
        StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)))) {
      line = r.readLine();
    } catch (MalformedInputException e) {
      throw invalid("the password file " + file + " is not UTF-8 text");
    } catch (IOException e) {
      throw invalid("cannot read the password file " + file + ": " + describe(e));
    }
    if (line == null || line.isEmpty()) {
      throw invalid("the password file " + file + " is empty: its first line is the password");
    }
    return line;
  }

  /** The PEM text of a CA bundle, checked to hold at least one X.509 certificate. */
  static String caFrom(Path file) {
    String pem;
    try {
      pem = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw invalid("cannot read the CA file " + file + ": " + describe(e));
    }
    if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
      throw invalid("the CA file " + file + " holds no certificate: give a PEM file with -----BEGIN CERTIFICATE----- blocks");
    }
    try {
      if (CertificateFactory.getInstance("X.509").generateCertificates(
          new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII))).isEmpty()) {
        throw invalid("the CA file " + file + " holds no certificate: give a PEM file with -----BEGIN CERTIFICATE----- blocks");
      }
    } catch (CertificateException e) {
      throw invalid("the CA file " + file + " is not PEM certificates (-----BEGIN CERTIFICATE-----): " + e.getMessage());
    }
    return pem;
  }

  /**
   * The text of a PEM file given with {@code option} ({@code --cert-file} or {@code --key-file}), checked only to be
   * readable PEM text here; tetherd checks what is in it.
   */
  static String pemFrom(String option, String what, Path file, String derHint) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw invalid("cannot read the " + what + " file " + file + " (" + option + "): " + describe(e));
    }
    String text = new String(bytes, StandardCharsets.ISO_8859_1);
    if (!text.contains("-----BEGIN ")) {
      throw invalid("the " + what + " file " + file + " (" + option + ") is not PEM (no -----BEGIN line)"
          + (bytes.length > 0 && bytes[0] == 0x30 ? "; it looks like DER, which converts with: " + derHint : ""));
    }
    return text;
  }

  private static String describe(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    return e.getMessage() == null ? e.toString() : e.getMessage();
  }

  private static boolean readableByOthers(Path file) {
    try {
      java.util.Set<java.nio.file.attribute.PosixFilePermission> p = java.nio.file.Files.getPosixFilePermissions(file);
      return p.contains(java.nio.file.attribute.PosixFilePermission.GROUP_READ)
          || p.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ);
    } catch (IOException | UnsupportedOperationException e) {
      return false; // read already, so it exists; a file system without POSIX modes has nothing to say here
    }
  }

  /** Sends one relay request to tetherd and prints its answer (the relay's state after it). */
  static int call(CommandSpec spec, ConnectivityOp op, ObjectNode body, boolean json) {
    try (DaemonClient c = ConnectivityCommands.root(spec).connect(TetherCommand.CLI_APP_ID)) {
      print(spec, c.call(op, body), json);
      return 0;
    }
  }

  /**
   * {@code tether relay set mqtts://HOST[:PORT] [--ca-file PEM] [--username U [--password-file FILE]]
   * [--cert-file CERT.pem --key-file KEY.pem]}.
   */
  @Command(name = "set", description = {"Relay links through the MQTT broker at BROKER.",
      "BROKER is mqtts://HOST[:PORT] (TLS, port 8883 by default; the broker's certificate and host name are verified) "
      + "or mqtt://HOST[:PORT] (plain, port 1883 by default). The password comes from --password-file or the "
      + "environment variable TETHER_RELAY_PASSWORD, never the command line. --cert-file and --key-file log in with an "
      + "X.509 client certificate instead of or besides a password. The setting replaces the previous one whole, and "
      + "is left as it was when anything is wrong."})
  public static final class Set implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "BROKER", description = "mqtts://HOST[:PORT] or mqtt://HOST[:PORT].") String broker;

    @Option(names = "--username", paramLabel = "USER", description = "The MQTT user name.") String username;

    @Option(names = "--password-file", paramLabel = "FILE", description = "A file whose first line is the MQTT password "
        + "(needs --username); without it, TETHER_RELAY_PASSWORD is the password when set.") Path passwordFile;

    @Option(names = "--ca-file", paramLabel = "PEM", description = "CA certificates (PEM) the broker's certificate must "
        + "chain to, instead of the JDK's default trust store (mqtts:// only); the PEM text is stored, not the path.")
    Path caFile;

    @Option(names = "--cert-file", paramLabel = "CERT.pem", description = "The X.509 client certificate (PEM, the "
        + "client's own first, then any intermediate CA certificates) the TLS handshake logs in to the broker with "
        + "(mqtts:// only; needs --key-file); its text is stored, not the path.") Path certFile;

    @Option(names = "--key-file", paramLabel = "KEY.pem", description = "The client certificate's private key (PEM: "
        + "PKCS#8 or the traditional EC or RSA form, not encrypted; needs --cert-file); its text is stored, not the "
        + "path, and never shown.") Path keyFile;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
      ObjectNode b = Json.object();
      if ((certFile == null) != (keyFile == null)) {
        throw invalid(certFile == null ? "--key-file needs --cert-file: give the client certificate with its key"
            : "--cert-file needs --key-file: give the client certificate's private key with it");
      }
      if (certFile != null && !broker.trim().regionMatches(true, 0, "mqtts://", 0, 8)) {
        throw invalid("--cert-file and --key-file log in during the TLS handshake: use mqtts:// with them (plain "
            + "mqtt:// has no TLS)");
      }
      b.put("broker", broker.trim());
      if (passwordFile != null && username == null) {
        throw invalid("--password-file needs --username: MQTT sends a password only with a user name");
      }
      if (username != null) {
        if (username.isEmpty()) {
          throw invalid("--username is empty");
        }
        b.put("username", username);
        String password = passwordFile != null ? passwordFrom(passwordFile) : System.getenv(ENV_PASSWORD);
        if (password != null && password.isEmpty()) {
          throw invalid(ENV_PASSWORD + " is set but empty");
        }
        if (password != null) {
          b.put("password", password);
        }
      }
      if (caFile != null) {
        b.put("caPem", caFrom(caFile));
      }
      if (certFile != null) {
        b.put("clientCertPem", pemFrom("--cert-file", "client certificate", certFile,
            "openssl x509 -inform der -in " + certFile + " -out CERT.pem"));
        b.put("clientKeyPem", pemFrom("--key-file", "private key", keyFile,
            "openssl pkey -inform der -in " + keyFile + " -out KEY.pem"));
      }
      if (b.has("password") && broker.trim().regionMatches(true, 0, "mqtt://", 0, 7)) {
        spec.commandLine().getErr().println("tether: warning: over mqtt:// the password reaches the broker unencrypted "
            + "(anyone on the path can read it); use mqtts:// where the broker offers TLS");
      }
      if (passwordFile != null && readableByOthers(passwordFile)) {
        spec.commandLine().getErr().println("tether: warning: " + passwordFile + " can be read by other users; "
            + "chmod 600 " + passwordFile);
      }
      if (keyFile != null && readableByOthers(keyFile)) {
        spec.commandLine().getErr().println("tether: warning: " + keyFile + " can be read by other users; "
            + "chmod 600 " + keyFile);
      }
      try (DaemonClient c = ConnectivityCommands.root(spec).connect(TetherCommand.CLI_APP_ID)) {
        ObjectNode r = c.call(ConnectivityOp.RELAY_SET, b);
        JsonNode cert = r.path("clientCert");
        if (cert.path("expired").asBoolean() || cert.path("notYetValid").asBoolean()) {
          spec.commandLine().getErr().println("tether: warning: the client certificate " + cert.path("subject").asText()
              + " is " + (cert.path("expired").asBoolean() ? "expired since " + cert.path("notAfter").asText()
                  : "not valid before " + cert.path("notBefore").asText())
              + "; the broker will likely refuse it: set a valid one with --cert-file and --key-file");
        }
        print(spec, r, json);
        return 0;
      }
    }
  }

  /** {@code tether relay clear}. */
  @Command(name = "clear", description = "Stop relaying; links through the relay drop and are dialed directly.")
  public static final class Clear implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
      return RelayCommand.call(spec, ConnectivityOp.RELAY_CLEAR, Json.object(), json);
    }
  }

  /** {@code tether relay status}. */
  @Command(name = "status", description = {"Show the relay broker and whether tetherd is connected to it.",
      "Also its user name, whether a password and a CA bundle are set (never the password), the client certificate's "
      + "subject and expiry (never its key), and its last error and when."})
  public static final class Status implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
      return RelayCommand.call(spec, ConnectivityOp.RELAY_STATUS, Json.object(), json);
    }
  }
}
