// Connect protocol envelopes (connectrpc.com/docs/protocol, "streaming"):
// every message of a streaming RPC is [flags:1][length:4, big-endian][data].
// Flag 0x01 marks a compressed message (never offered by Kiln, so refused),
// 0x02 the end-of-stream message, whose JSON is {} or {"error": {...}}.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace kiln::e2b {

inline constexpr std::uint8_t kEnvelopeCompressed = 0x01;
inline constexpr std::uint8_t kEnvelopeEndStream = 0x02;

// One envelope around `data`.
std::string encode_envelope(std::uint8_t flags, std::string_view data);
// A data envelope holding `message` as JSON.
std::string message_envelope(const nlohmann::json& message);
// The end-of-stream envelope: {} or {"error":{"code","message"}} when
// `error_code` is not empty.
std::string end_stream_envelope(const std::string& error_code = "",
                                const std::string& error_message = "");

// The single message a server-streaming request carries, parsed as a JSON
// object: exactly one uncompressed data envelope, at most `max_bytes`
// long, nothing after it. EINVAL (with what was wrong) otherwise.
Result<nlohmann::json> decode_request_envelope(std::string_view body, std::size_t max_bytes);

}  // namespace kiln::e2b
