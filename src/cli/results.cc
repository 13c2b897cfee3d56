#include "cli/results.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>

namespace kiln::cli {
using nlohmann::json;

Status ensure_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return Status::internal("the output folder " + dir + " is not a folder");
    return Status::ok();
  }
  if (::mkdir(dir.c_str(), 0755) != 0) return Status::from_errno("cannot create --out-dir " + dir);
  return Status::ok();
}

Result<std::string> base64_decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') clean += c;
  }
  if (clean.size() % 4 != 0)
    return Status::internal("invalid base64: length is not a multiple of 4");
  if (clean.empty()) return std::string();
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return Status::internal("invalid base64");
  std::size_t padding = 0;
  if (clean.back() == '=') ++padding;
  if (clean[clean.size() - 2] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> png_size(std::string_view data) {
  static constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
  if (data.size() < 24 || data.substr(0, 8) != kSignature || data.substr(12, 4) != "IHDR")
    return std::nullopt;
  auto be32 = [&data](std::size_t at) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(data[at])) << 24) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 1])) << 16) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 2])) << 8) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + 3]));
  };
  return std::make_pair(be32(16), be32(20));
}

const std::vector<std::pair<std::string, std::string>>& file_kinds() {
  static const std::vector<std::pair<std::string, std::string>> kinds = {
      {"png", "png"}, {"jpeg", "jpg"}, {"svg", "svg"}, {"pdf", "pdf"}, {"html", "html"}};
  return kinds;
}

bool has_image(const json& result) {
  return result.contains("png") || result.contains("jpeg") || result.contains("svg") ||
         result.contains("pdf");
}

Result<std::vector<SavedFile>> ResultSaver::save(const json& result) {
  std::vector<SavedFile> saved;
  if (!result.is_object()) return saved;
  const int index = next_;
  for (const auto& [key, ext] : file_kinds()) {
    auto it = result.find(key);
    if (it == result.end() || !it->is_string()) continue;
    std::string bytes;
    if (key == "svg" || key == "html") {
      bytes = it->get<std::string>();
    } else {
      auto decoded = base64_decode(it->get_ref<const std::string&>());
      if (!decoded) return Status::internal("result " + key + ": " + decoded.status().message());
      bytes = std::move(*decoded);
    }
    SavedFile f;
    f.path = (out_dir_.empty() ? "." : out_dir_) + "/result-" + std::to_string(index) + "." + ext;
    f.kind = key;
    f.size = bytes.size();
    if (auto dims = key == "png" ? png_size(bytes) : std::nullopt)
      f.note = std::to_string(dims->first) + "x" + std::to_string(dims->second) + " PNG";
    std::ofstream out(f.path, std::ios::binary | std::ios::trunc);
    if (!out) return Status::from_errno("cannot write " + f.path);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) return Status::from_errno("cannot write " + f.path);
    saved.push_back(std::move(f));
  }
  if (!saved.empty()) ++next_;
  return saved;
}

}  // namespace kiln::cli
