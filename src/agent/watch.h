// Watch: one fd kiln-init's loop polls and what to do when it is readable.
//
// Thread-safety: single-threaded.
#pragma once

#include <functional>
#include <vector>

namespace kiln::agent {

struct Watch {
  int fd;
  std::function<void()> ready;  // looks its owner up again: it may be gone
};
using Watches = std::vector<Watch>;

}  // namespace kiln::agent
