#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/format.h"

namespace kiln::cli {
namespace {

std::size_t terminal_width() {
  struct winsize ws {};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

void write_stderr(const std::string& s) {
  std::fflush(stdout);
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

std::chrono::milliseconds progress_delay() {
  const char* env = std::getenv("KILN_PROGRESS_DELAY_MS");  // NOLINT(concurrency-mt-unsafe)
  if (env && *env) {
    char* end = nullptr;
    const long ms = std::strtol(env, &end, 10);
    if (end && *end == '\0' && ms >= 0) return std::chrono::milliseconds(ms);
  }
  return std::chrono::milliseconds(1000);
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string render_bar(const std::string& label, std::uint64_t done,
                       std::optional<std::uint64_t> total, std::size_t width) {
  if (!total || *total == 0) return label + "  " + human_bytes(done);
  const std::uint64_t shown = std::min(done, *total);
  const int percent = static_cast<int>(shown * 100 / *total);
  const std::string tail =
      "  " + std::to_string(percent) + "%  " + human_bytes(shown) + " / " + human_bytes(*total);
  std::string head = label;
  // Room for the bar: at least 10 cells, at most 30.
  const std::size_t fixed = head.size() + tail.size() + 4;
  std::size_t cells = width > fixed + 10 ? std::min<std::size_t>(30, width - fixed) : 10;
  if (fixed + cells > width && head.size() > 20) head = head.substr(0, 17) + "...";
  const std::size_t full = static_cast<std::size_t>(shown * cells / *total);
  return head + "  [" + std::string(full, '#') + std::string(cells - full, '.') + "]" + tail;
}

std::string render_spinner(const std::string& label, std::chrono::milliseconds elapsed) {
  static constexpr char kFrames[] = {'|', '/', '-', '\\'};
  const char frame = kFrames[(elapsed.count() / 100) % 4];
  return std::string(1, frame) + " " + label + " " + human_duration(elapsed);
}

Progress::Progress(std::string label, bool enabled, std::chrono::milliseconds delay)
    : label_(std::move(label)), enabled_(enabled), delay_(delay) {}

Progress::~Progress() { clear(); }

void Progress::set_bytes(std::uint64_t done, std::optional<std::uint64_t> total) {
  has_bytes_ = true;
  done_ = done;
  total_ = total;
  // The last step is always drawn (when the bar shows at all).
  if (total && done >= *total && drawn_) last_draw_ = {};
  tick();
}

void Progress::tick() {
  if (!enabled_ || !at_line_start_) return;
  const auto now = Clock::now();
  if (now - start_ < delay_) return;
  if (drawn_ && last_draw_ != Clock::time_point{} &&
      now - last_draw_ < std::chrono::milliseconds(100))
    return;
  last_draw_ = now;
  const std::size_t width = terminal_width() - 1;
  std::string line =
      has_bytes_ ? render_bar(label_, done_, total_, width)
                 : render_spinner(
                       label_, std::chrono::duration_cast<std::chrono::milliseconds>(now - start_));
  if (line.size() > width) line.resize(width);
  write_stderr("\r\033[K" + line);
  drawn_ = true;
}

void Progress::clear() {
  if (!drawn_) return;
  write_stderr("\r\033[K");
  drawn_ = false;
}

}  // namespace kiln::cli
