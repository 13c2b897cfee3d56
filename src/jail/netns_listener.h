// listen_in_netns: a TCP listening socket on 127.0.0.1:port inside the
// network namespace of a sandbox's PID 1, owned by kilnd.
//
// A socket belongs to the namespace it was created in for its whole life,
// so a short-lived thread of kilnd enters the sandbox's namespace
// (setns via the pidfd: no pid reuse race), creates, binds and listens,
// and exits; kilnd keeps the fd and accepts on it from its own io_context.
// Nothing is started inside the sandbox and nothing there gains a
// capability: code in the sandbox can connect to the socket, like to any
// local server, but cannot close it, take its port (the socket is bound
// first and without SO_REUSEPORT, whose sharing is limited to one uid) or
// see what kilnd does with a connection.
//
// Thread-safety: any thread; blocks for the length of a thread start.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "common/unique_fd.h"

namespace kiln::jail {

// Non-blocking, close-on-exec. Errors carry the failing step and errno.
Result<UniqueFd> listen_in_netns(int pidfd, std::uint16_t port);

}  // namespace kiln::jail
