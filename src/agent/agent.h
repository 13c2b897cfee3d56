// Agent: the event loop of kiln-init, PID 1 of every sandbox.
//
// It reads typed requests (protocol/messages.h) from kilnd on fd 3 and
// hands them to its parts: Contexts (language runners and executions),
// Commands (shell commands) and the file operations, which run with the
// sandbox user's filesystem rights. It reaps every zombie (it is PID 1),
// fires deadlines, and writes every event back to kilnd as a frame.
//
// kiln-init runs as kInitUid with CAP_SETUID/SETGID/KILL and nothing else;
// everything it starts runs as kUserUid with no capabilities (see
// common/identity.h and agent/proc_ops.h).
//
// Thread-safety: single-threaded by design; run() returns only when kilnd
// closes the control socket.
#pragma once

namespace kiln::agent {

int run_agent(int control_fd);

}  // namespace kiln::agent
