// The sandbox's seccomp-bpf policy, built with libseccomp.
//
// Thread-safety: apply_seccomp_policy() affects only the calling thread and
// the processes it later creates; call it in the sandbox child right before
// execve(kiln-init), after PR_SET_NO_NEW_PRIVS.
#pragma once

#include "common/status.h"

namespace kiln::jail {

// Loads the policy into the calling thread. Must be async-signal-safe
// enough to run in a freshly cloned child of a single-threaded parent.
Status apply_seccomp_policy();

}  // namespace kiln::jail
