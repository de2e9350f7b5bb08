// kTLS transmit setup and record arithmetic (ktls.h).
#include "ktls.h"

#include <linux/if_alg.h>
#include <linux/tcp.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "posix.h"

// Older libc headers lack these; the values are the kernel's UAPI ones.
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

namespace kpsim::guest {

long long tls_record_overhead(int tls) { return tls == 12 ? 5 + 8 + 16 : 5 + 16 + 1; }

long long wire_bytes(long long bytes, int tls) {
  if (tls == 0) return bytes;
  const long long records = (bytes + kTlsMaxPayloadSize - 1) / kTlsMaxPayloadSize;
  return bytes + records * tls_record_overhead(tls);
}

bool set_ktls_tx(int fd, int tls, std::string& err) {
  if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) != 0) {
    err = std::string("setsockopt(TCP_ULP, tls): ") + strerror(errno);
    return false;
  }
  tls12_crypto_info_aes_gcm_128 ci{};
  ci.info.version = tls == 12 ? TLS_1_2_VERSION : TLS_1_3_VERSION;
  ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
  // Fixed key material: nobody decrypts, the receiver only counts ciphertext bytes.
  memset(ci.iv, 1, sizeof ci.iv);
  memset(ci.key, 2, sizeof ci.key);
  memset(ci.salt, 3, sizeof ci.salt);
  if (setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof ci) != 0) {
    err = std::string("setsockopt(SOL_TLS, TLS_TX): ") + strerror(errno);
    return false;
  }
  return true;
}

std::string bind_cryptd() {
  Fd a(socket(AF_ALG, SOCK_SEQPACKET, 0));
  if (a.fd < 0) return std::string("socket(AF_ALG): ") + strerror(errno);
  sockaddr_alg sa{};
  sa.salg_family = AF_ALG;
  strcpy(reinterpret_cast<char*>(sa.salg_type), "aead");
  strcpy(reinterpret_cast<char*>(sa.salg_name), "cryptd(gcm(aes))");
  if (bind(a.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return std::string("bind(cryptd(gcm(aes))): ") + strerror(errno);
  return "";
}

}  // namespace kpsim::guest
