// Splitting output into valid UTF-8 text events.
//
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <string_view>

namespace kiln::agent {

// Length of the longest prefix of `s` that does not end inside a multi-byte
// UTF-8 sequence; the rest (at most 3 bytes) is carried to the next read so
// a character split across two reads is not mangled.
std::size_t complete_utf8_prefix(std::string_view s);

}  // namespace kiln::agent
