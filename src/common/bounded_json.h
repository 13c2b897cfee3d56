// Bounded JSON decoding for data that crosses a trust boundary.
//
// nlohmann::json parses without recursion, but copying, comparing and
// serialising a value recurse once per level of nesting: a value nested
// 100,000 levels deep, sent by a sandbox, overflows the stack of whichever
// process touches it next. Every decoder of sandbox- or client-controlled
// JSON goes through parse_bounded_json(), which checks the size and the
// nesting depth in a SAX pass (no DOM, no recursion) before building the
// value, so nothing deeper than `max_depth` ever exists in memory.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"

namespace kiln {

struct JsonLimits {
  std::size_t max_bytes = 16u << 20;
  std::size_t max_depth = 128;  // arrays and objects, counted from the outermost
};

// Limits for messages between kilnd, kiln-init and the runners: a result's
// own JSON value gets the depth that is left after its envelope.
inline constexpr JsonLimits kProtocolJsonLimits{16u << 20, 128};

// Parses `text` if it is valid JSON within `limits`. Errors name what was
// wrong: "nested deeper than 128 levels", "larger than N bytes", or the
// parser's message (EINVAL in every case).
Result<nlohmann::json> parse_bounded_json(std::string_view text, const JsonLimits& limits);

// What code in a sandbox printed, read as JSON (a checker's findings, a
// test call's value): the value, or a discarded value if it is not valid
// JSON within kProtocolJsonLimits.
nlohmann::json untrusted_json(std::string_view text);

// The nesting depth of an existing value, computed without recursion
// (0 for a scalar, 1 for [] or {}). Stops counting past `stop_after`.
std::size_t json_depth(const nlohmann::json& value, std::size_t stop_after = SIZE_MAX);

}  // namespace kiln
