// kTLS transmit setup and record arithmetic (ktls.h).
#include "ktls.h"

#include <linux/if_alg.h>
#include <linux/tcp.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#include "posix.h"

// Older libc headers lack these; the values are the kernel's UAPI ones.
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef SOL_ALG
#define SOL_ALG 279
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

namespace {

// Fixed key material, the same for both directions' setup: the receiver of a script run
// decrypts with it (set_ktls_rx).
bool set_ktls(int fd, int tls, int which, const char* what, std::string& err) {
  if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) != 0) {
    err = std::string("setsockopt(TCP_ULP, tls): ") + strerror(errno);
    return false;
  }
  tls12_crypto_info_aes_gcm_128 ci{};
  ci.info.version = tls == 12 ? TLS_1_2_VERSION : TLS_1_3_VERSION;
  ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
  memset(ci.iv, 1, sizeof ci.iv);
  memset(ci.key, 2, sizeof ci.key);
  memset(ci.salt, 3, sizeof ci.salt);
  if (setsockopt(fd, SOL_TLS, which, &ci, sizeof ci) != 0) {
    err = std::string("setsockopt(SOL_TLS, ") + what + "): " + strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

bool set_ktls_tx(int fd, int tls, std::string& err) { return set_ktls(fd, tls, TLS_TX, "TLS_TX", err); }
bool set_ktls_rx(int fd, int tls, std::string& err) { return set_ktls(fd, tls, TLS_RX, "TLS_RX", err); }

std::string tls_decrypt(int tls, const std::string& wire, std::string& plain, size_t& partial) {
  partial = 0;
  unsigned char key[16], salt[4], iv[8];
  memset(key, 2, sizeof key);  // the key material of set_ktls
  memset(salt, 3, sizeof salt);
  memset(iv, 1, sizeof iv);
  Fd tfm(socket(AF_ALG, SOCK_SEQPACKET, 0));
  if (tfm.fd < 0) return std::string("socket(AF_ALG): ") + strerror(errno);
  sockaddr_alg sa{};
  sa.salg_family = AF_ALG;
  strcpy(reinterpret_cast<char*>(sa.salg_type), "aead");
  strcpy(reinterpret_cast<char*>(sa.salg_name), "gcm(aes)");
  if (bind(tfm.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return std::string("bind(AF_ALG gcm(aes)): ") + strerror(errno);
  if (setsockopt(tfm.fd, SOL_ALG, ALG_SET_KEY, key, sizeof key) != 0 ||
      setsockopt(tfm.fd, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, nullptr, 16) != 0)
    return std::string("AF_ALG key: ") + strerror(errno);
  Fd op(accept(tfm.fd, nullptr, nullptr));
  if (op.fd < 0) return std::string("accept(AF_ALG): ") + strerror(errno);
  const size_t tag = 16, explicit_iv = tls == 12 ? 8 : 0;
  std::vector<unsigned char> in, out;
  uint64_t seq = 0;
  for (size_t at = 0; at < wire.size(); ++seq) {
    if (wire.size() - at < 5) {
      partial = wire.size() - at;
      break;
    }
    const auto* h = reinterpret_cast<const unsigned char*>(wire.data() + at);
    const size_t len = (size_t{h[3]} << 8) | h[4];
    if (h[0] != 23 || len < explicit_iv + tag + (tls == 12 ? 0 : 1))
      return "record " + std::to_string(seq) + ": not an application data record";
    if (wire.size() - at - 5 < len) {
      partial = wire.size() - at;
      break;
    }
    const size_t ct = len - explicit_iv - tag;  // ciphertext bytes (1.3: the inner type included)
    // The nonce and the associated data (RFC 5288 for 1.2, RFC 8446 5.2-5.3 for 1.3).
    unsigned char nonce[12];
    memcpy(nonce, salt, 4);
    std::vector<unsigned char> aad;
    if (tls == 12) {
      memcpy(nonce + 4, h + 5, 8);  // the explicit nonce the record carries
      for (int i = 7; i >= 0; --i) aad.push_back(static_cast<unsigned char>(seq >> (8 * i)));
      aad.insert(aad.end(), {h[0], h[1], h[2], static_cast<unsigned char>(ct >> 8), static_cast<unsigned char>(ct)});
    } else {
      memcpy(nonce + 4, iv, 8);
      for (int i = 0; i < 8; ++i) nonce[4 + i] ^= static_cast<unsigned char>(seq >> (8 * (7 - i)));
      aad.assign(h, h + 5);
    }
    in.assign(aad.begin(), aad.end());
    in.insert(in.end(), h + 5 + explicit_iv, h + 5 + len);
    // One AF_ALG operation: decrypt, this nonce, this much associated data.
    char cbuf[CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(af_alg_iv) + 12) + CMSG_SPACE(sizeof(uint32_t))] = {};
    msghdr msg{};
    iovec io{in.data(), in.size()};
    msg.msg_iov = &io;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_ALG;
    c->cmsg_type = ALG_SET_OP;
    c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
    const uint32_t dec = ALG_OP_DECRYPT;
    memcpy(CMSG_DATA(c), &dec, sizeof dec);
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = SOL_ALG;
    c->cmsg_type = ALG_SET_IV;
    c->cmsg_len = CMSG_LEN(sizeof(af_alg_iv) + 12);
    af_alg_iv ivh{};
    ivh.ivlen = 12;
    memcpy(CMSG_DATA(c), &ivh, sizeof ivh);
    memcpy(CMSG_DATA(c) + offsetof(af_alg_iv, iv), nonce, 12);
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = SOL_ALG;
    c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
    c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
    const auto alen = static_cast<uint32_t>(aad.size());
    memcpy(CMSG_DATA(c), &alen, sizeof alen);
    if (sendmsg(op.fd, &msg, 0) != static_cast<ssize_t>(in.size()))
      return "record " + std::to_string(seq) + ": AF_ALG sendmsg: " + strerror(errno);
    out.resize(aad.size() + ct);
    const ssize_t n = read(op.fd, out.data(), out.size());
    if (n != static_cast<ssize_t>(out.size()))
      return "record " + std::to_string(seq) + (n < 0 && errno == EBADMSG ? ": authentication failed" : ": AF_ALG read: " + std::string(strerror(errno)));
    size_t pt = ct;
    if (tls != 12) {  // TLS 1.3: strip the zero padding and the inner content type
      while (pt > 0 && out[aad.size() + pt - 1] == 0) --pt;
      if (pt == 0 || out[aad.size() + pt - 1] != 23) return "record " + std::to_string(seq) + ": inner type is not application data";
      --pt;
    }
    plain.append(reinterpret_cast<const char*>(out.data() + aad.size()), pt);
    at += 5 + len;
  }
  return "";
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
