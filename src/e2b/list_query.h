// GET /v2/sandboxes query parameters: the metadata filter and the states.
//
// The metadata filter arrives as one parameter holding a form-encoded
// "k=v&k2=v2" string whose keys and values E2B's JS SDK percent-encodes
// once more (2.51; newer SDKs do not), so after the query's own decoding a
// second form decoding and a third, tolerant percent-decoding give the
// pairs. Literal '%' sequences in metadata therefore cannot be filtered on.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <set>
#include <string>

#include "common/status.h"

namespace kiln::e2b {

inline constexpr std::size_t kMaxMetadataFilters = 64;

// `value` is the metadata parameter once decoded by the query parser.
Result<std::map<std::string, std::string>> parse_metadata_filter(const std::string& value);

// "running,paused" -> {running, paused}; "" -> both. EINVAL for others.
Result<std::set<std::string>> parse_states(const std::string& value);

}  // namespace kiln::e2b
