#include "storage/file_types.h"

#include <cerrno>
#include <string>

namespace kiln::storage {
namespace {

struct Kind {
  std::string_view name;
  std::initializer_list<std::string_view> extensions;
};

// The allow-list, grouped so the refusal message can name what is accepted.
const Kind kAllowed[] = {
    {"text and code",
     {"txt",   "md",   "markdown", "rst",   "csv",  "tsv",  "json", "jsonl", "ndjson", "geojson",
      "xml",   "yaml", "yml",      "toml",  "html", "htm",  "css",  "js",    "mjs",    "ts",
      "tsx",   "jsx",  "py",       "ipynb", "r",    "rmd",  "sql",  "tex",   "bib",    "log",
      "c",     "h",    "cc",       "cpp",   "hpp",  "java", "go",   "rs",    "rb",     "php",
      "swift", "kt",   "scala",    "lua",   "m",    "jl",   "srt",  "vtt"}},
    {"images", {"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "tif", "tiff", "ico", "heic"}},
    {"PDF", {"pdf"}},
    {"audio", {"mp3", "wav", "ogg", "flac", "m4a", "aac", "opus"}},
    {"video", {"mp4", "webm", "mov", "mkv", "avi", "m4v"}},
    {"office documents",
     {"doc", "docx", "xls", "xlsx", "xlsm", "ppt", "pptx", "odt", "ods", "odp", "rtf", "epub"}},
    {"data files", {"parquet", "feather", "arrow", "npy", "npz", "h5", "hdf5", "avro", "orc"}},
};

struct Blocked {
  std::string_view reason;
  std::initializer_list<std::string_view> extensions;
};

const Blocked kBlocked[] = {
    {"executables and shared libraries",
     {"exe", "dll", "so", "dylib", "bin", "elf",  "msi", "app", "com", "scr", "cpl",
      "o",   "a",   "ko", "class", "pyc", "wasm", "apk", "ipa", "dmg", "pkg"}},
    {"scripts",
     {"sh", "bash", "zsh", "ksh", "csh", "fish", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "wsf",
      "hta", "command", "run"}},
    {"archives", {"zip", "tar", "gz",  "tgz", "bz2", "tbz2", "xz",  "txz", "zst", "7z",   "rar",
                  "jar", "war", "ear", "deb", "rpm", "cab",  "iso", "img", "lz",  "lzma", "z"}},
    {"system files", {"sys", "ini", "conf", "cfg", "reg", "drv", "inf", "lnk", "service"}},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status refuse(std::string message) { return Status::unsupported_type(std::move(message)); }

std::string supported_kinds() {
  std::string out;
  for (std::size_t i = 0; i < std::size(kAllowed); ++i) {
    if (i > 0) out += i + 1 == std::size(kAllowed) ? " and " : ", ";
    out += kAllowed[i].name;
  }
  return out;
}

// Source files of languages whose scripts often start with a #! line; for
// them that line is ordinary, not a disguised shell script.
bool is_source_code(std::string_view ext) {
  for (auto e : {"py", "js", "mjs", "cjs", "ts", "r", "rb", "pl", "php", "jl", "lua"}) {
    if (ext == e) return true;
  }
  return false;
}

// Returns the reason when the content is an executable image or script.
std::string_view sniff_executable(std::string_view b, std::string_view ext) {
  auto starts = [&](std::string_view magic) { return b.substr(0, magic.size()) == magic; };
  if (starts("\x7f"
             "ELF"))
    return "an ELF executable or library";
  if (starts("#!") && !is_source_code(ext)) return "a script (starts with #!)";
  // Mach-O 32/64-bit in both byte orders, and universal ("fat") binaries.
  // 0xCAFEBABE is also a Java class file, which is refused anyway.
  static constexpr std::string_view kMachO[] = {
      std::string_view("\xfe\xed\xfa\xce", 4), std::string_view("\xfe\xed\xfa\xcf", 4),
      std::string_view("\xce\xfa\xed\xfe", 4), std::string_view("\xcf\xfa\xed\xfe", 4),
      std::string_view("\xca\xfe\xba\xbe", 4)};
  for (auto magic : kMachO) {
    if (starts(magic)) return "a Mach-O executable";
  }
  // "MZ" alone is also how a text file may begin ("MZ,Region\n..." in a CSV).
  // A real DOS/PE header always has NUL bytes in its first 64 (the high
  // bytes of its 16- and 32-bit fields), so require one to avoid refusing
  // such text.
  if (starts("MZ") && b.substr(0, kDriveSniffBytes).find('\0') != std::string_view::npos) {
    return "a Windows (PE/DOS) executable";
  }
  return {};
}

}  // namespace

Status check_drive_type(std::string_view path, std::string_view first_bytes) {
  std::size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  std::size_t dot = name.rfind('.');
  // A leading dot marks a hidden file (".bashrc"), not an extension.
  std::string ext = (dot == std::string_view::npos || dot == 0) ? "" : lower(name.substr(dot + 1));

  for (const Blocked& b : kBlocked) {
    for (auto e : b.extensions) {
      if (e == ext) {
        return refuse(std::string("'.")
                          .append(ext)
                          .append("' files are not allowed in Drive: ")
                          .append(b.reason));
      }
    }
  }
  bool allowed = false;
  for (const Kind& k : kAllowed) {
    for (auto e : k.extensions) allowed = allowed || e == ext;
  }
  if (!allowed) {
    std::string what = ext.empty() ? std::string("files without an extension are")
                                   : std::string("'.").append(ext).append("' files are");
    return refuse(std::string("unsupported type: ") + what +
                  " not accepted in Drive; supported: " + supported_kinds());
  }
  if (std::string_view why = sniff_executable(first_bytes, ext); !why.empty()) {
    return refuse(std::string("'").append(name) + "' is not allowed in Drive: its content is " +
                  std::string(why));
  }
  return Status::ok();
}

}  // namespace kiln::storage
