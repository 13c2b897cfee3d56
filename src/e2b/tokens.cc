#include "e2b/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace kiln::e2b {

std::string sandbox_token(const std::string& secret, TokenKind kind,
                          const std::string& sandbox_id) {
  const std::string msg =
      std::string(kind == TokenKind::kEnvd ? "e2b-envd-access\n" : "e2b-traffic-access\n") +
      sandbox_id;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  return out;
}

bool token_matches(const std::string& secret, TokenKind kind, const std::string& sandbox_id,
                   std::string_view presented) {
  const std::string want = sandbox_token(secret, kind, sandbox_id);
  return presented.size() == want.size() &&
         CRYPTO_memcmp(presented.data(), want.data(), want.size()) == 0;
}

std::string file_signature(std::string_view path, std::string_view operation, std::string_view user,
                           std::string_view token, std::optional<std::int64_t> expiration) {
  std::string raw;
  raw.append(path).append(":").append(operation).append(":").append(user).append(":").append(token);
  if (expiration) raw += ":" + std::to_string(*expiration);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(raw.data(), raw.size(), digest, &len, EVP_sha256(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
  std::string out = "v1_" + std::string(reinterpret_cast<const char*>(b64), n > 0 ? n : 0);
  while (out.back() == '=') out.pop_back();
  return out;
}

bool signatures_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace kiln::e2b
