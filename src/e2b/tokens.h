// The per-sandbox tokens E2B's SDKs carry: envdAccessToken (X-Access-Token
// on envd calls) and trafficAccessToken (E2B-Traffic-Access-Token on the
// code interpreter's). Each is HMAC-SHA256 (OpenSSL) of the sandbox id
// under the daemon's secret, so kilnd stores none and they survive a
// restart; a token names one sandbox and cannot be derived from its id.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::e2b {

enum class TokenKind { kEnvd, kTraffic };

// 64 lower-case hex characters.
std::string sandbox_token(const std::string& secret, TokenKind kind, const std::string& sandbox_id);

// Constant-time check of `presented` against the sandbox's token.
bool token_matches(const std::string& secret, TokenKind kind, const std::string& sandbox_id,
                   std::string_view presented);

// E2B's signed file URLs (files.downloadUrl / uploadUrl): "v1_" + base64 of
// SHA-256("path:operation:user:token" [+ ":expiration"]), '=' padding
// removed; `operation` is "read" or "write", `token` the sandbox's envd
// token, `expiration` Unix seconds.
std::string file_signature(std::string_view path, std::string_view operation, std::string_view user,
                           std::string_view token, std::optional<std::int64_t> expiration);

// Constant-time comparison of two signatures.
bool signatures_equal(std::string_view a, std::string_view b);

}  // namespace kiln::e2b
