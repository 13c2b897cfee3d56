// Uploads and downloads with a progress bar on stderr (when it is a
// terminal and the transfer lasts over a second).
//
// Thread-safety: as ApiClient.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/api_client.h"

namespace kiln::cli {

Result<std::string> download(const ApiClient& api, const std::string& target,
                             const std::string& label);
Result<nlohmann::json> upload(const ApiClient& api, const std::string& target, std::string data,
                              const std::string& label);

}  // namespace kiln::cli
