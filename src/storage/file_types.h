// Which files may move between a sandbox and Drive.
//
// Drive is for documents and data that agents and people exchange, not for
// software: anything that could be executed on a user's machine after a
// download is refused, so a compromised sandbox cannot use Drive to stage a
// payload. The decision is by extension (case-insensitive; the last one, so
// "report.pdf.exe" is an .exe) and then by content, because an extension is
// only a claim: an ELF, PE or Mach-O image or a "#!" script is refused
// whatever it is called. Unknown extensions are refused too (allow-list).
// Inside a sandbox any file is allowed; this applies to Drive only.
//
// Concurrency: pure functions over constant tables.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace kiln::storage {

// How many leading bytes check_drive_type looks at; pass at least this many
// when the file is that long.
inline constexpr std::size_t kDriveSniffBytes = 64;

// OK, or EMEDIUMTYPE with a message giving the reason (the API answers 415
// with it), e.g. "'.sh' files are not allowed in Drive: scripts".
Status check_drive_type(std::string_view path, std::string_view first_bytes);

}  // namespace kiln::storage
