// kTLS transmit setup and the record arithmetic every workload shares.
//
// The runner sends with TLS_TX (AES-GCM-128, a fixed key) on the sender. Its peer reads raw
// ciphertext bytes (decrypted afterwards, tls_decrypt), or, for a script's `tls_rx`, sets
// TLS_RX with the same key and reads plaintext through the kernel's tls_sw_recvmsg.
#pragma once

#include <string>

namespace kpsim::guest {

// The plaintext of one full TLS record: the kernel's TLS_MAX_PAYLOAD_SIZE (2^14). tls_sw
// closes a record at this size, so sends cut into multiples of it leave no open record.
inline constexpr long long kTlsMaxPayloadSize = 16384;

// Wire bytes a record adds to its payload with AES-GCM-128: the 5-byte header plus, for TLS 1.2
// (tls == 12), the 8-byte explicit nonce and the 16-byte tag; for TLS 1.3, the tag and the
// 1-byte inner content type.
long long tls_record_overhead(int tls);

// Bytes on the wire for `bytes` of payload cut into full records (every send call's size a
// multiple of kTlsMaxPayloadSize, or the last one); tls == 0 (plain TCP) adds nothing. Only a
// completeness check.
long long wire_bytes(long long bytes, int tls);

// TCP_ULP "tls" then TLS_TX (tls == 12: TLS 1.2, else 1.3) on fd; false with err set.
bool set_ktls_tx(int fd, int tls, std::string& err);
// TCP_ULP "tls" then TLS_RX with the key material set_ktls_tx uses (`tls_rx` of a script): the
// socket's recv() returns the plaintext of the records its peer's kTLS TX sends.
bool set_ktls_rx(int fd, int tls, std::string& err);

// Decrypts the records set_ktls_tx's key produced (application data, AES-GCM-128, record
// sequence from 0) from the raw bytes a peer read off the wire, in user space as the reports'
// curl does, through the kernel's AF_ALG gcm(aes). Appends each record's plaintext to `plain`;
// "" when every complete record authenticated, else what failed (the record's index). A
// trailing partial record is reported in `partial` (bytes), not decrypted.
std::string tls_decrypt(int tls, const std::string& wire, std::string& plain, size_t& partial);

// Registers cryptd(gcm(aes)) by binding an AF_ALG aead socket to it: the instance outranks the
// generic gcm(aes), so kTLS then gets an async AEAD. The bind may fail while the instance stays
// registered (docs/guest.md: EEXIST on 6.12, ENOENT on 6.1), so the caller checks /proc/crypto.
// Returns the error, or "".
std::string bind_cryptd();

}  // namespace kpsim::guest
