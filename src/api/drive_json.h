// JSON shape of a Drive file, shared by the Drive and actions routes.
//
// Thread-safety: pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "storage/drive.h"

namespace kiln::api {

nlohmann::json drive_file_json(const storage::DriveFile& f);

}  // namespace kiln::api
