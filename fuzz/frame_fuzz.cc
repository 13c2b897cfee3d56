// libFuzzer harness: the kilnd <-> kiln-init frame decoder (protocol/frame.h).
//
// The whole input is the byte stream a peer sends. It is fed to a
// FrameDecoder in pseudo-random chunk sizes (derived from a hash of the
// input, so a reproducer replays exactly), calling next() after every feed
// until it yields nothing or fails. Checked:
//   * the decoder never crashes, leaks or trips UBSan;
//   * chunking does not matter: the frames and the error (if any) are the
//     same as when the whole input is fed at once;
//   * every decoded frame round-trips: encode_frame() accepts it, a fresh
//     decoder gives back one equal frame and nothing else, and re-encoding
//     that is byte-identical (the encoding is canonical).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/frame.h"

namespace {

using kiln::protocol::encode_frame;
using kiln::protocol::Frame;
using kiln::protocol::FrameDecoder;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

struct Outcome {
  std::vector<Frame> frames;
  bool failed = false;
};

// Drains the decoder; returns false once it reported an error.
bool drain(FrameDecoder& dec, Outcome& out) {
  while (true) {
    auto r = dec.next();
    if (!r) {
      FUZZ_CHECK(!r.status().message().empty());
      out.failed = true;
      return false;
    }
    if (!r->has_value()) return true;
    out.frames.push_back(std::move(**r));
  }
}

std::uint64_t fnv1a(const std::uint8_t* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

void check_round_trip(const Frame& f) {
  auto bytes = encode_frame(f);
  FUZZ_CHECK(bytes.is_ok());
  FrameDecoder dec;
  dec.feed(bytes->data(), bytes->size());
  auto r = dec.next();
  FUZZ_CHECK(r.is_ok());
  FUZZ_CHECK(r->has_value());
  const Frame& back = **r;
  FUZZ_CHECK(back.msg == f.msg);
  FUZZ_CHECK(back.data == f.data);
  FUZZ_CHECK(dec.buffered() == 0);
  auto none = dec.next();
  FUZZ_CHECK(none.is_ok() && !none->has_value());
  auto again = encode_frame(back);
  FUZZ_CHECK(again.is_ok());
  FUZZ_CHECK(*again == *bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);

  // Reference: everything at once.
  Outcome whole;
  {
    FrameDecoder dec;
    dec.feed(bytes, size);
    drain(dec, whole);
  }

  // The same bytes in random-sized chunks (1..64, sometimes larger).
  Outcome chunked;
  {
    FrameDecoder dec;
    std::uint64_t rng = fnv1a(data, size) | 1;
    std::size_t pos = 0;
    bool ok = true;
    while (ok && pos < size) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;  // xorshift64
      std::size_t n = (rng & 0x7) == 0 ? 1 + (rng >> 8) % 4096 : 1 + (rng >> 8) % 64;
      if (n > size - pos) n = size - pos;
      dec.feed(bytes + pos, n);
      pos += n;
      ok = drain(dec, chunked);
    }
    // Nothing decoded may be lost or invented: what is left is a partial frame.
    if (ok) FUZZ_CHECK(dec.buffered() <= size);
  }

  FUZZ_CHECK(whole.failed == chunked.failed);
  FUZZ_CHECK(whole.frames.size() == chunked.frames.size());
  for (std::size_t i = 0; i < whole.frames.size(); ++i) {
    FUZZ_CHECK(whole.frames[i].msg == chunked.frames[i].msg);
    FUZZ_CHECK(whole.frames[i].data == chunked.frames[i].data);
    FUZZ_CHECK(whole.frames[i].msg.is_object());
    check_round_trip(whole.frames[i]);
  }
  return 0;
}
