// libFuzzer harness: Drive path, prefix and scope parsing
// (storage/drive_path.h, storage/drive_scope.h) and the Drive file-type
// check (storage/file_types.h), all on the same input.
//
// Input layout: the whole input is the path. The same bytes are also the
// "first bytes" of a file for check_drive_type, and the scope name.
//
// Invariants for every accepted path (normalize_drive_path and
// normalize_drive_prefix):
//   starts with "/", no "//", no "/./", no "/../" (nor a trailing "/." or
//   "/.."), no NUL or other control character, no trailing "/" (except the
//   prefix "/"), at most kMaxDrivePath bytes and kMaxDrivePathComponent per
//   component, and normalising it again gives the same string.
// check_drive_type: OK or kUnsupportedType with a message; the verdict does not
// depend on the case of the path or on bytes past kDriveSniffBytes.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/drive_path.h"
#include "storage/drive_scope.h"
#include "storage/file_types.h"

namespace {

using namespace kiln::storage;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

bool contains(std::string_view s, std::string_view needle) {
  return s.find(needle) != std::string_view::npos;
}

void check_normalized(const std::string& p, bool prefix) {
  FUZZ_CHECK(!p.empty() && p.front() == '/');
  FUZZ_CHECK(!contains(p, "//"));
  FUZZ_CHECK(!contains(p, "/./"));
  FUZZ_CHECK(!contains(p, "/../"));
  FUZZ_CHECK(p.size() < 2 || p.compare(p.size() - 2, 2, "/.") != 0);
  FUZZ_CHECK(p.size() < 3 || p.compare(p.size() - 3, 3, "/..") != 0);
  for (unsigned char c : p) FUZZ_CHECK(c >= 0x20 && c != 0x7f);  // NUL included
  FUZZ_CHECK(p.size() <= kMaxDrivePath);
  if (prefix && p == "/") return;
  FUZZ_CHECK(p.back() != '/');
  std::size_t start = 1;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    FUZZ_CHECK(end > start);
    FUZZ_CHECK(end - start <= kMaxDrivePathComponent);
    start = end + 1;
  }
  // Idempotent, through both entry points.
  auto again = normalize_drive_path(p);
  FUZZ_CHECK(again.is_ok());
  FUZZ_CHECK(*again == p);
  auto as_prefix = normalize_drive_prefix(p);
  FUZZ_CHECK(as_prefix.is_ok());
  FUZZ_CHECK(*as_prefix == p);
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

void check_type(std::string_view path, std::string_view bytes) {
  kiln::Status st = check_drive_type(path, bytes);
  if (!st) {
    FUZZ_CHECK(st.kind() == kiln::ErrorKind::kUnsupportedType);
    FUZZ_CHECK(!st.message().empty());
  }
  // Extensions are case-insensitive.
  kiln::Status upper = check_drive_type(ascii_upper(path), bytes);
  FUZZ_CHECK(upper.is_ok() == st.is_ok());
  // Only the first kDriveSniffBytes bytes of content count.
  if (bytes.size() > kDriveSniffBytes) {
    kiln::Status head = check_drive_type(path, bytes.substr(0, kDriveSniffBytes));
    FUZZ_CHECK(head.is_ok() == st.is_ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  auto path = normalize_drive_path(in);
  if (path) {
    check_normalized(*path, false);
    // An accepted path is accepted as a prefix too, unchanged.
    auto pre = normalize_drive_prefix(*path);
    FUZZ_CHECK(pre.is_ok() && *pre == *path);
  } else {
    FUZZ_CHECK(path.status().kind() == kiln::ErrorKind::kInvalid);
    FUZZ_CHECK(!path.status().message().empty());
  }

  auto prefix = normalize_drive_prefix(in);
  if (prefix) {
    check_normalized(*prefix, true);
    // A prefix differs from a path only for "" and all-slashes.
    if (in.find_first_not_of('/') != std::string_view::npos) {
      FUZZ_CHECK(path.is_ok() && *path == *prefix);
    } else {
      FUZZ_CHECK(*prefix == "/");
    }
  } else {
    FUZZ_CHECK(!path.is_ok());
  }

  auto scope = parse_scope(in);
  if (scope) {
    auto back = parse_scope(scope_name(*scope));
    FUZZ_CHECK(back.is_ok() && *back == *scope);
  } else {
    FUZZ_CHECK(scope.status().kind() == kiln::ErrorKind::kInvalid);
  }

  check_type(in, in);
  if (path) check_type(*path, in);
  return 0;
}
