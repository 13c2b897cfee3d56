// A one-line progress display on stderr: a bar for uploads and downloads,
// a spinner with the elapsed time for runs. It appears only when stderr is
// a terminal and the operation has lasted a second, and it steps aside for
// the program's own output (clear() before writing, and no redraw while the
// terminal's cursor is not at the start of a line).
//
// Thread-safety: none; used from the thread that drives the request.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace kiln::cli {

// "label  [#########..........]  45%  4.5 MiB / 10.0 MiB" in width columns
// (without total: "label  4.5 MiB").
std::string render_bar(const std::string& label, std::uint64_t done,
                       std::optional<std::uint64_t> total, std::size_t width);
// "| label 3.2 s" with the spinner frame for elapsed.
std::string render_spinner(const std::string& label, std::chrono::milliseconds elapsed);

// One second, or $KILN_PROGRESS_DELAY_MS (the tests show the bar at once).
std::chrono::milliseconds progress_delay();

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  // enabled: normally stderr_is_terminal(); delay: how long before it shows.
  Progress(std::string label, bool enabled, std::chrono::milliseconds delay = progress_delay());
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Byte counts for a bar; without any, a spinner is drawn.
  void set_bytes(std::uint64_t done, std::optional<std::uint64_t> total);
  // Redraws when due (call often; it limits itself to 10 redraws a second).
  void tick();
  // Erases the line if it is drawn (before the caller writes anything).
  void clear();
  // Tells where the cursor is after the caller's output: true when what
  // was written last ended a line, so the line may be drawn again.
  void note_output(bool ended_line) { at_line_start_ = ended_line; }

 private:
  std::string label_;
  bool enabled_;
  std::chrono::milliseconds delay_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  bool drawn_ = false;
  bool at_line_start_ = true;
  bool has_bytes_ = false;
  std::uint64_t done_ = 0;
  std::optional<std::uint64_t> total_;
};

bool stderr_is_terminal();

}  // namespace kiln::cli
