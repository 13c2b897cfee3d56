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

}  // namespace kiln::e2b
