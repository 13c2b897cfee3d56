#include "protocol/frame.h"

#include <cstring>
#include <string_view>

#include "common/bounded_json.h"

namespace kiln::protocol {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

Result<std::string> encode_frame(const Frame& frame) {
  // Invalid UTF-8 in a message (say, a file name) must not abort the
  // process: replace it rather than throw.
  std::string json = frame.msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (json.size() > kMaxJsonBytes) return Status::internal("frame message too large");
  if (frame.data.size() > kMaxDataBytes) return Status::internal("frame payload too large");
  std::string out;
  out.reserve(kHeaderSize + json.size() + frame.data.size());
  put_u32(out, static_cast<std::uint32_t>(json.size()));
  put_u32(out, static_cast<std::uint32_t>(frame.data.size()));
  out += json;
  out += frame.data;
  return out;
}

Result<std::optional<Frame>> FrameDecoder::next() {
  const std::size_t avail = buffer_.size() - offset_;
  if (avail < kHeaderSize) return std::optional<Frame>();
  const char* p = buffer_.data() + offset_;
  const std::uint32_t json_len = get_u32(p);
  const std::uint32_t data_len = get_u32(p + 4);
  if (json_len == 0 || json_len > kMaxJsonBytes)
    return Status::internal("bad frame: message length");
  if (data_len > max_data_) return Status::internal("bad frame: payload length");
  const std::size_t total = kHeaderSize + json_len + data_len;
  if (avail < total) return std::optional<Frame>();
  Frame frame;
  // The peer is not trusted: depth and size are checked before a value is
  // built (see common/bounded_json.h).
  auto msg = parse_bounded_json(std::string_view(p + kHeaderSize, json_len), kProtocolJsonLimits);
  if (!msg) return Status::internal("bad frame: " + msg.status().message());
  if (!msg->is_object()) return Status::internal("bad frame: message is not a JSON object");
  frame.msg = std::move(*msg);
  frame.data.assign(p + kHeaderSize + json_len, data_len);
  frame.wire_bytes = total;
  offset_ += total;
  // Compact once the consumed prefix dominates, to keep appends cheap.
  if (offset_ > (1u << 16) && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  } else if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  return std::optional<Frame>(std::move(frame));
}

}  // namespace kiln::protocol
