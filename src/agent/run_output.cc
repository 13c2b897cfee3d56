#include "agent/run_output.h"

#include <utf8.h>

#include <algorithm>

#include "agent/utf8.h"

namespace kiln::agent {

namespace {

void cut(std::string& text, std::size_t cap) {
  if (text.size() <= cap) return;
  text.resize(complete_utf8_prefix(std::string_view(text).substr(0, cap)));
  text += "\n[kiln: truncated]";
}

int index_of(protocol::Stream s) { return s == protocol::Stream::kStdout ? 0 : 1; }

}  // namespace

void bound_error(protocol::ErrorEvent& error) {
  cut(error.name, kMaxErrorName);
  cut(error.value, kMaxErrorValue);
  cut(error.traceback, kMaxErrorTraceback);
}

RunOutput::RunOutput(EventSink& sink, std::uint64_t rid, std::uint64_t output_cap,
                     std::uint64_t result_cap)
    : sink_(sink), rid_(rid), output_cap_(output_cap), result_cap_(result_cap) {}

void RunOutput::output(protocol::Stream stream, std::string_view raw) {
  if (raw.empty()) return;
  // Programs may print any bytes; what is relayed (and counted against the
  // cap) is text, with U+FFFD for what is not UTF-8, so the cap bounds the
  // bytes on the wire too.
  std::string cleaned;
  std::string_view text = raw;
  if (!utf8::is_valid(raw.begin(), raw.end())) {
    cleaned = utf8::replace_invalid(std::string(raw));
    text = cleaned;
  }
  const int i = index_of(stream);
  const std::uint64_t room = output_cap_ > sent_[i] ? output_cap_ - sent_[i] : 0;
  std::string_view part = text.substr(0, std::min<std::uint64_t>(room, text.size()));
  if (part.size() < text.size()) {
    part = part.substr(0, complete_utf8_prefix(part));
    dropped_[i] += text.size() - part.size();
  }
  if (part.empty()) return;
  sent_[i] += part.size();
  sink_.send(rid_, protocol::Output{stream, std::string(part), false});
}

void RunOutput::result(nlohmann::json bundle, std::size_t bytes) {
  if (result_bytes_ + bytes > result_cap_) {
    ++results_dropped_;
    result_bytes_dropped_ += bytes;
    if (result_refusal_.empty())
      result_refusal_ = "results are capped at " + std::to_string(result_cap_) + " bytes per run";
    return;
  }
  result_bytes_ += bytes;
  sink_.send(rid_, protocol::ResultEvent{std::move(bundle)});
}

void RunOutput::error(protocol::ErrorEvent error) {
  bound_error(error);
  sink_.send(rid_, std::move(error));
}

void RunOutput::refused(std::size_t bytes, const std::string& why) {
  ++results_dropped_;
  result_bytes_dropped_ += bytes;
  if (result_refusal_.empty()) result_refusal_ = why;
  error({"ResultError", "kiln dropped " + why, "", std::nullopt});
}

void RunOutput::notice(protocol::Stream stream, std::string text) {
  sink_.send(rid_, protocol::Output{stream, std::move(text), true});
}

void RunOutput::end(protocol::End end) {
  if (results_dropped_ > 0) {
    notice(protocol::Stream::kStderr,
           "[kiln: " + std::to_string(results_dropped_) + " result(s) dropped (" +
               std::to_string(result_bytes_dropped_) + " bytes): " + result_refusal_ + "]\n");
  }
  for (auto stream : {protocol::Stream::kStdout, protocol::Stream::kStderr}) {
    const int i = index_of(stream);
    if (dropped_[i] == 0) continue;
    // A notice of its own (not glued to the user's last line).
    notice(stream, "[kiln: output truncated at " + std::to_string(output_cap_) + " bytes; " +
                       std::to_string(dropped_[i]) + " bytes dropped]\n");
  }
  sink_.send(rid_, end);
}

}  // namespace kiln::agent
