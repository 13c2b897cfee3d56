// multipart/form-data bodies (RFC 7578), as E2B's SDKs upload files: one
// part per file, form field "file", the target path as its filename (which
// may be missing when the path is in the query). Boost.Beast has no
// multipart reader and Debian packages none for C++, so this is a small
// one, bounded by the body it is given (the server caps that) and by a
// part count.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiln::e2b {

struct FormPart {
  std::string name;      // the form field name
  std::string filename;  // "" when the part has none
  std::string data;
};

inline constexpr std::size_t kMaxFormParts = 64;

// The boundary parameter of a multipart/form-data Content-Type, or EINVAL.
Result<std::string> multipart_boundary(std::string_view content_type);

// Every part of `body`; EINVAL for a malformed body, more than
// kMaxFormParts parts, or no closing boundary.
Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace kiln::e2b
