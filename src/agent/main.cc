// kiln-init: PID 1 inside a sandbox. See agent/agent.h.
#include <sys/prctl.h>

#include "agent/agent.h"

int main() {
  // Nothing else in the sandbox (same uid) may read our memory or our fds
  // through /proc/1: keep PID 1 undumpable.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return kiln::agent::run_agent(3);
}
