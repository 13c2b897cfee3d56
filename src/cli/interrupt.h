// Ctrl-C as the CLI wants it: SIGINT sets a flag (and wakes a poll through
// a self-pipe) instead of killing kiln, so a run can be closed cleanly (kilnd
// interrupts a run whose client disconnects) and its sandbox deleted.
// SIGTERM and SIGHUP (a closed terminal) do the same and also ask kiln to
// quit: the REPL then ends as on Ctrl-D, deleting its sandbox.
//
// Thread-safety: install() once from main; the rest is async-signal-safe
// on the handler side and meant for the main thread.
#pragma once

namespace kiln::cli::interrupt {

// Installs the SIGINT, SIGTERM and SIGHUP handler (idempotent).
void install();
// True once one of them arrived since the last clear().
bool pending();
// SIGTERM or SIGHUP if one arrived (never cleared), else 0.
int quit_signal();
void clear();
// The read end of the self-pipe: readable after each SIGINT (drain it with
// clear()).
int wake_fd();

}  // namespace kiln::cli::interrupt
