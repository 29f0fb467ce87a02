#pragma once
// Hexadecimal digits: one definition for every parser that reads them from untrusted text (URL
// percent-escapes, auditd's hex-encoded strings, API token secrets, ClamAV signature digests).

namespace seccloud {

// The value of one hexadecimal digit, either case: '0'–'9' → 0–9, 'a'–'f' and 'A'–'F' → 10–15;
// -1 for any other byte (a sign, a space, a NUL, a byte ≥ 0x80 — `char` may be signed).
constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace seccloud
