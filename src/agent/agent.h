// Agent: the event loop of kiln-init, PID 1 of every sandbox.
//
// It speaks frames (protocol/frame.h) with kilnd on fd 3 and, per code
// context, JSON lines with a language runner on the runner's fd 3. It spawns
// runners and shell commands as the sandbox user, relays their stdout and
// stderr as it arrives, enforces per-run timeouts (SIGINT first, then SIGKILL
// of the process group after a grace period), reaps every zombie (it is PID
// 1), and performs file operations for the files API.
//
// Thread-safety: single-threaded by design; run() never returns until kilnd
// closes the control socket.
#pragma once

namespace kiln::agent {

int run_agent(int control_fd);

}  // namespace kiln::agent
