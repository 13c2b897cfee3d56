// EventSink: where kiln-init's parts send the events and replies of the
// requests they serve (the agent encodes them as frames to kilnd; tests
// record them).
//
// Thread-safety: single-threaded, like all of kiln-init.
#pragma once

#include <cstdint>

#include "protocol/messages.h"

namespace kiln::agent {

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void send(std::uint64_t rid, protocol::Event event) = 0;
};

}  // namespace kiln::agent
