// Rich results (PNG charts, HTML tables, SVG, PDF, ...) saved as files:
// result-1.png, result-2.html, ... in an output folder.
//
// Thread-safety: a ResultSaver is used from one thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kiln::cli {

// Makes the output folder (one level) unless it exists; an error if it is
// not a folder.
Status ensure_dir(const std::string& dir);

// Standard base64 (padding required, whitespace ignored).
Result<std::string> base64_decode(std::string_view text);

// A PNG's width and height from its IHDR chunk; nullopt if not a PNG.
std::optional<std::pair<std::uint32_t, std::uint32_t>> png_size(std::string_view data);

struct SavedFile {
  std::string path;  // as written: out_dir + "/result-1.png"
  std::string kind;  // the result key: "png", "html", ...
  std::uint64_t size = 0;
  std::string note;  // "640x480 PNG" for images, else ""
};

// The keys of a result that are saved as files, in the order they are
// looked for, with their file extensions.
const std::vector<std::pair<std::string, std::string>>& file_kinds();

// True when the result's text is only a stand-in for a picture (a
// matplotlib figure's "<Figure size 640x480 with 1 Axes>").
bool has_image(const nlohmann::json& result);

class ResultSaver {
 public:
  explicit ResultSaver(std::string out_dir, int next_index = 1)
      : out_dir_(std::move(out_dir)), next_(next_index) {}

  // Writes every file rendering of one result as result-N.<ext> (one N
  // per result, shared by its renderings); none: an empty list.
  Result<std::vector<SavedFile>> save(const nlohmann::json& result);

 private:
  std::string out_dir_;
  int next_;
};

}  // namespace kiln::cli
