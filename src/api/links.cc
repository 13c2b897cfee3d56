#include "api/links.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <uriparser/Uri.h>

#include <cerrno>
#include <vector>

namespace kiln::api {

namespace {

std::string hmac_hex(const std::string& secret, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

std::string signed_message(const std::string& w, const std::string& p, const std::string& e) {
  // NUL separators: no field can contain one, so fields cannot be shifted.
  return w + std::string(1, '\0') + p + std::string(1, '\0') + e;
}

std::string escape(const std::string& s) {
  std::vector<char> buf(s.size() * 6 + 1);
  const char* end = uriEscapeExA(s.data(), s.data() + s.size(), buf.data(), URI_FALSE, URI_TRUE);
  return std::string(static_cast<const char*>(buf.data()), end);
}

}  // namespace

std::string sign_link(const std::string& secret, const std::string& workspace,
                      const std::string& path, std::chrono::system_clock::time_point expires) {
  const std::string e = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count());
  return "/v1/download?w=" + escape(workspace) + "&p=" + escape(path) + "&e=" + e +
         "&sig=" + hmac_hex(secret, signed_message(workspace, path, e));
}

Result<LinkTarget> verify_link(const std::string& secret, const std::string& workspace,
                               const std::string& path, const std::string& expires,
                               const std::string& signature,
                               std::chrono::system_clock::time_point now) {
  const std::string want = hmac_hex(secret, signed_message(workspace, path, expires));
  if (signature.size() != want.size() ||
      CRYPTO_memcmp(signature.data(), want.data(), want.size()) != 0) {
    return Status::invalid("invalid download link");
  }
  long long deadline = 0;
  try {
    deadline = std::stoll(expires);
  } catch (const std::exception&) {
    return Status::invalid("invalid download link");
  }
  const auto now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_s > deadline) return Status::unprocessable("the download link has expired");
  return LinkTarget{workspace, path};
}

Result<std::string> decode_base64(const std::string& text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') clean += c;
  if (clean.size() % 4 != 0) return Status::invalid("fileBase64 is not valid base64");
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return Status::invalid("fileBase64 is not valid base64");
  // EVP_DecodeBlock counts the padding as zero bytes; drop them.
  std::size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

}  // namespace kiln::api
