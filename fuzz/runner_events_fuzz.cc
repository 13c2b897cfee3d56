// libFuzzer harness: everything a sandbox can send, through every decoder
// it reaches (see agent/runner_lines.h, agent/run_output.h,
// protocol/messages.h).
//
// The input is split in two by its first byte:
//   * as the bytes a runner (user code) writes on its control socket: fed
//     in chunks to a LineBuffer, each line decoded by decode_runner_line()
//     and handed to a RunOutput with small caps, as kiln-init does. Every
//     event it produces must encode to a frame that kilnd's decode_event()
//     accepts, whose values kilnd can copy and dump, and the bytes relayed
//     must stay within the run's caps (plus the fixed-size notices);
//   * as frames from kiln-init itself (a compromised one): fed to a
//     FrameDecoder and decode_event(). Whatever it accepts, kilnd can copy,
//     compare and dump without recursion trouble (depth is bounded).
// Nothing may crash, throw, leak or trip UBSan.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "agent/run_output.h"
#include "agent/runner_lines.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace {

using namespace kiln;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

constexpr std::uint64_t kOutputCap = 4096;
constexpr std::uint64_t kResultCap = 8192;

// kilnd's side of each event kiln-init would send.
struct KilndSide : agent::EventSink {
  std::uint64_t output_bytes = 0, result_bytes = 0;
  void send(std::uint64_t rid, protocol::Event e) override {
    auto bytes = protocol::encode_frame(protocol::encode_event(rid, e));
    FUZZ_CHECK(bytes.is_ok());
    protocol::FrameDecoder dec;
    dec.feed(bytes->data(), bytes->size());
    auto frame = dec.next();
    FUZZ_CHECK(frame.is_ok() && frame->has_value());
    auto decoded = protocol::decode_event(std::move(**frame));
    FUZZ_CHECK(decoded.is_ok());
    FUZZ_CHECK(decoded->rid == rid);
    if (auto* o = std::get_if<protocol::Output>(&decoded->event); o && !o->notice)
      output_bytes += o->text.size();
    if (auto* r = std::get_if<protocol::ResultEvent>(&decoded->event)) {
      nlohmann::json copy = r->bundle;  // kilnd copies and dumps results
      result_bytes += copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size();
    }
  }
};

void as_runner_bytes(std::string_view input) {
  KilndSide kilnd;
  agent::RunOutput run(kilnd, 7, kOutputCap, kResultCap);
  agent::LineBuffer lines(1 << 16);
  std::size_t pos = 0, step = 1;
  while (pos < input.size()) {
    const std::size_t n = std::min(step, input.size() - pos);
    lines.feed(
        input.substr(pos, n),
        [&](std::string_view line) {
          auto msg = agent::decode_runner_line(line);
          if (auto* r = std::get_if<agent::RunnerResult>(&msg))
            run.result(std::move(r->bundle), line.size());
          else if (auto* e = std::get_if<agent::RunnerError>(&msg))
            run.error(std::move(e->error));
          else if (auto* bad = std::get_if<agent::RunnerRefused>(&msg))
            run.refused(line.size(), bad->why);
          // Output on the pipes is relayed as it comes: the same bytes.
          run.output(protocol::Stream::kStdout, line);
        },
        [&](std::size_t bytes) { run.refused(bytes, "over-long"); });
    pos += n;
    step = step * 3 % 1021 + 1;
  }
  run.end({});
  FUZZ_CHECK(kilnd.output_bytes <= kOutputCap);
  // A result is counted by its line; its re-dump is no larger than the
  // line it came from, give or take escaping of replaced bytes.
  FUZZ_CHECK(kilnd.result_bytes <= 4 * kResultCap);
}

void as_init_frames(std::string_view input) {
  protocol::FrameDecoder dec;
  dec.feed(input.data(), input.size());
  while (true) {
    auto frame = dec.next();
    if (!frame || !frame->has_value()) return;
    auto decoded = protocol::decode_event(std::move(**frame));
    if (!decoded) continue;
    if (auto* r = std::get_if<protocol::ResultEvent>(&decoded->event)) {
      nlohmann::json copy = r->bundle;
      FUZZ_CHECK(copy == r->bundle);
      (void)copy.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    if (auto* reply = std::get_if<protocol::Reply>(&decoded->event)) {
      (void)protocol::decode_file_entries(*reply);
      (void)protocol::decode_command_list(*reply);
      (void)protocol::decode_command_reply(*reply);
      (void)protocol::decode_pid(*reply);
      (void)protocol::decode_size(*reply);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1)
    as_init_frames(input);
  else
    as_runner_bytes(input);
  return 0;
}
