// Signed download links for Drive files: a link names one file of one
// workspace until a deadline, and is its own credential (no API key), so an
// agent can hand it to a person or a browser.
//
// The signature is HMAC-SHA256 (OpenSSL) over workspace, path and deadline
// with a secret kept in the data folder; links survive a daemon restart and
// cannot be forged or altered.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace kiln::api {

struct LinkTarget {
  std::string workspace;
  std::string path;
};

// "/v1/download?w=…&p=…&e=<unix seconds>&sig=<hex>"
std::string sign_link(const std::string& secret, const std::string& workspace,
                      const std::string& path, std::chrono::system_clock::time_point expires);

// EACCES for a bad signature, ETIMEDOUT for an expired link.
Result<LinkTarget> verify_link(const std::string& secret, const std::string& workspace,
                               const std::string& path, const std::string& expires,
                               const std::string& signature,
                               std::chrono::system_clock::time_point now);

// Standard base64 (OpenSSL's decoder); whitespace is ignored. EINVAL when
// the text is not base64.
Result<std::string> decode_base64(const std::string& text);

}  // namespace kiln::api
