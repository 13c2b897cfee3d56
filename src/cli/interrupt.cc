#include "cli/interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>

namespace kiln::cli::interrupt {
namespace {

volatile std::sig_atomic_t g_pending = 0;
volatile std::sig_atomic_t g_quit = 0;
int g_pipe[2] = {-1, -1};

void on_signal(int signo) {
  g_pending = 1;
  if (signo != SIGINT) g_quit = signo;
  if (g_pipe[1] >= 0) {
    const char c = 'i';
    [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &c, 1);
  }
}

}  // namespace

void install() {
  if (g_pipe[0] >= 0) return;
  if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking call returns EINTR
  for (int signo : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signo, &sa, nullptr);
}

bool pending() { return g_pending != 0; }

int quit_signal() { return g_quit; }

void clear() {
  g_pending = 0;
  if (g_pipe[0] >= 0) {
    char buf[64];
    while (::read(g_pipe[0], buf, sizeof buf) > 0) {
    }
  }
}

int wake_fd() { return g_pipe[0]; }

}  // namespace kiln::cli::interrupt
