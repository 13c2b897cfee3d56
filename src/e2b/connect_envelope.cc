#include "e2b/connect_envelope.h"

#include "common/bounded_json.h"

namespace kiln::e2b {

namespace {
constexpr std::size_t kHeader = 5;
constexpr std::size_t kMaxDepth = 32;  // request messages are a few levels deep
}  // namespace

std::string encode_envelope(std::uint8_t flags, std::string_view data) {
  const auto n = static_cast<std::uint32_t>(data.size());
  std::string out;
  out.reserve(kHeader + data.size());
  out.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(data);
  return out;
}

std::string message_envelope(const nlohmann::json& message) {
  return encode_envelope(0, message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string end_stream_envelope(const std::string& error_code, const std::string& error_message) {
  nlohmann::json end = nlohmann::json::object();
  if (!error_code.empty()) end["error"] = {{"code", error_code}, {"message", error_message}};
  return encode_envelope(kEnvelopeEndStream,
                         end.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Result<nlohmann::json> decode_request_envelope(std::string_view body, std::size_t max_bytes) {
  if (body.size() < kHeader) return Status::invalid("request is shorter than one envelope header");
  const auto flags = static_cast<std::uint8_t>(body[0]);
  if (flags & kEnvelopeCompressed) return Status::invalid("compressed messages are not supported");
  if (flags != 0) return Status::invalid("the request envelope must be a data message");
  std::uint32_t n = 0;
  for (std::size_t i = 1; i < kHeader; ++i) n = (n << 8) | static_cast<std::uint8_t>(body[i]);
  if (n > max_bytes) {
    return Status::too_large("request message of " + std::to_string(n) + " bytes is over the " +
                             std::to_string(max_bytes) + "-byte limit");
  }
  if (body.size() - kHeader != n) {
    return Status::invalid("request envelope length " + std::to_string(n) + " does not match the " +
                           std::to_string(body.size() - kHeader) + " bytes that follow");
  }
  auto j = parse_bounded_json(body.substr(kHeader), JsonLimits{max_bytes, kMaxDepth});
  if (!j) return j.status();
  if (!j->is_object()) return Status::invalid("request message must be a JSON object");
  return std::move(*j);
}

}  // namespace kiln::e2b
