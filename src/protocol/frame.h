// Frames exchanged between kilnd and kiln-init over a socketpair.
//
// A frame is an 8-byte header (two little-endian u32: JSON length, binary
// length), a JSON object (the message, always carrying "op" and usually a
// request id "rid") and an optional binary payload (file contents), so that
// file bytes never need base64 on this hop.
//
// Thread-safety: FrameDecoder is a plain value; use one per connection from
// one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"

namespace kiln::protocol {

inline constexpr std::size_t kHeaderSize = 8;
inline constexpr std::uint32_t kMaxJsonBytes = 16u << 20;  // 16 MiB
inline constexpr std::uint32_t kMaxDataBytes = 64u << 20;  // file cap + headroom

struct Frame {
  nlohmann::json msg;
  std::string data;
  std::size_t wire_bytes = 0;  // set by the decoder: header + message + payload
};

// Serialises a frame; fails only if the parts exceed the caps above.
Result<std::string> encode_frame(const Frame& frame);

// Incremental decoder: feed() bytes as they arrive, then call next() until it
// returns an empty optional. A malformed or oversized frame is an error and
// the connection must be dropped (the peer is not trusted to resync).
class FrameDecoder {
 public:
  void feed(const char* bytes, std::size_t n) { buffer_.append(bytes, n); }
  Result<std::optional<Frame>> next();
  std::size_t buffered() const { return buffer_.size() - offset_; }
  // The largest payload the next frames may carry (kMaxDataBytes by
  // default): kilnd allows one only while it waits for file bytes, so a
  // sandbox cannot make it buffer payloads nobody asked for.
  void set_max_data(std::uint32_t n) { max_data_ = n; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
  std::uint32_t max_data_ = kMaxDataBytes;
};

}  // namespace kiln::protocol
