package dev.tether.daemon.internal.link;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The pairing code as shown and typed, and the proofs of knowing it. */
class PairingCodeTest {
  static final String L = "aa".repeat(32);
  static final String C = "bb".repeat(32);

  @Test
  void aCodeIs80BitsInCrockfordBase32() {
    byte[] zeros = new byte[10];
    byte[] ones = new byte[10];
    Arrays.fill(ones, (byte) 0xff);
    assertThat(PairingCode.base32(zeros)).isEqualTo("0000000000000000");
    assertThat(PairingCode.base32(ones)).isEqualTo("ZZZZZZZZZZZZZZZZ");
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      String code = PairingCode.generate();
      assertThat(code).matches("[0-9A-HJKMNP-TV-Z]{16}");
      assertThat(seen.add(code)).isTrue();
    }
  }

  @Test
  void theCodeAsShownAndAsTypedIsTheSameCode() {
    String code = "0123456789ABCDEF";
    assertThat(PairingCode.format(code)).isEqualTo("0123-4567-89AB-CDEF");
    assertThat(PairingCode.normalize("0123-4567-89ab-cdef")).isEqualTo(code);
    assertThat(PairingCode.normalize("o123 4567 89ab cdef")).isEqualTo(code);
    assertThat(PairingCode.normalize("0I23-4567-89AB-CDEF")).isEqualTo("0123456789ABCDEF");
    assertThat(PairingCode.normalize("0l23-4567-89AB-CDEF")).isEqualTo("0123456789ABCDEF");
  }

  @Test
  void eachProofIsBoundToItsSideBothFingerprintsAndBothNonces() {
    byte[] mac = PairingCode.mac("0123456789ABCDEF", PairingCode.CONNECTOR, L, C, "n1", "n2");
    assertThat(PairingCode.mac("0123-4567-89ab-cdef", PairingCode.CONNECTOR, L, C, "n1", "n2")).isEqualTo(mac);
    assertThat(PairingCode.mac("0123456789ABCDEF", PairingCode.LISTENER, L, C, "n1", "n2")).isNotEqualTo(mac);
    assertThat(PairingCode.mac("0123456789ABCDEF", PairingCode.CONNECTOR, C, C, "n1", "n2")).isNotEqualTo(mac);
    assertThat(PairingCode.mac("0123456789ABCDEF", PairingCode.CONNECTOR, L, L, "n1", "n2")).isNotEqualTo(mac);
    assertThat(PairingCode.mac("0123456789ABCDEF", PairingCode.CONNECTOR, L, C, "n3", "n2")).isNotEqualTo(mac);
    assertThat(PairingCode.mac("0123456789ABCDEF", PairingCode.CONNECTOR, L, C, "n1", "n3")).isNotEqualTo(mac);
    assertThat(PairingCode.mac("0123456789ABCDEG", PairingCode.CONNECTOR, L, C, "n1", "n2")).isNotEqualTo(mac);
    assertThat(mac).hasSize(32);
    assertThat(PairingCode.nonce()).matches("[0-9a-f]{32}").isNotEqualTo(PairingCode.nonce());
  }
}
