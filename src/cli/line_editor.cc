#include "cli/line_editor.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>

// libedit's readline interface; it needs <cstdio> first.
#include <editline/readline.h>

#include "cli/interrupt.h"

namespace kiln::cli {
namespace {

constexpr int kHistoryEntries = 1000;

// rl_callback_handler_install takes a plain function: the line lands here.
bool g_line_done = false;
bool g_line_eof = false;
std::string g_line;

void on_line(char* line) {
  g_line_done = true;
  g_line_eof = line == nullptr;
  if (line) {
    g_line = line;
    std::free(line);  // NOLINT(cppcoreguidelines-no-malloc): libedit malloc()s it
  }
}

void make_parent_dirs(const std::string& path) {
  for (std::size_t i = 1; i < path.size(); ++i) {
    if (path[i] != '/') continue;
    const std::string dir = path.substr(0, i);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return;
  }
}

}  // namespace

LineEditor::LineEditor(std::string history_path)
    : history_path_(std::move(history_path)), interactive_(::isatty(STDIN_FILENO) == 1) {
  if (!interactive_) return;
  rl_readline_name = "kiln";
  rl_catch_signals = 0;  // SIGINT is ours (interrupt.h)
  using_history();
  stifle_history(kHistoryEntries);
  if (!history_path_.empty()) read_history(history_path_.c_str());
}

LineEditor::~LineEditor() {
  if (!interactive_ || !dirty_ || history_path_.empty()) return;
  make_parent_dirs(history_path_);
  const mode_t old = ::umask(077);
  write_history(history_path_.c_str());
  ::umask(old);
}

LineEditor::Input LineEditor::read_plain(const std::string& prompt) {
  Input in;
  if (interrupt::quit_signal()) return in;  // kEof
  if (std::getline(std::cin, in.line)) {
    in.kind = Kind::kLine;
  } else {
    in.kind = Kind::kEof;
  }
  return in;
}

LineEditor::Input LineEditor::read(const std::string& prompt) {
  if (!interactive_) return read_plain(prompt);
  interrupt::clear();
  g_line_done = false;
  g_line_eof = false;
  g_line.clear();
  rl_callback_handler_install(prompt.c_str(), on_line);
  Input in;
  while (!g_line_done) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {interrupt::wake_fd(), POLLIN, 0}};
    const int n = ::poll(fds, interrupt::wake_fd() >= 0 ? 2 : 1, -1);
    if (interrupt::pending()) {
      rl_callback_handler_remove();
      interrupt::clear();
      std::fputs(interrupt::quit_signal() ? "\n" : "^C\n", stdout);
      std::fflush(stdout);
      in.kind = interrupt::quit_signal() ? Kind::kEof : Kind::kInterrupted;
      return in;
    }
    if (n < 0) continue;  // EINTR from another signal (SIGWINCH)
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) rl_callback_read_char();
  }
  rl_callback_handler_remove();
  if (g_line_eof) {
    std::fputs("\n", stdout);
    std::fflush(stdout);
    in.kind = Kind::kEof;
    return in;
  }
  in.kind = Kind::kLine;
  in.line = g_line;
  return in;
}

void LineEditor::remember(const std::string& entry) {
  if (!interactive_ || entry.empty()) return;
  add_history(entry.c_str());
  dirty_ = true;
}

}  // namespace kiln::cli
