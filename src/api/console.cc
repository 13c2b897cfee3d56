// The web console's static files. Vite names every asset after its
// content's hash (console/assets/index-3f2a1c.js), so those are cached for
// a year; index.html and the other unhashed files are revalidated on every
// load (no-cache with an ETag, 304 when unchanged).
#include "api/console.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>

#include "common/unique_fd.h"

namespace kiln::api {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

// No inline script or style, no eval, nothing from another origin. Images
// may be data: URLs (a chart a run returned, as base64) or blob: URLs.
// Results' HTML and SVG are shown in sandboxed srcdoc iframes, which
// inherit this policy: nothing in them runs, and they load nothing but the
// console's own frame.css (no Cross-Origin-Resource-Policy header, so
// those opaque-origin frames may load it).
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; frame-src 'none'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'none'";

constexpr off_t kMaxFileBytes = 32 << 20;

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

bool plain_name(const std::string& s) {
  if (s.empty() || s.size() > 255 || s[0] == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

struct StaticFile {
  std::string bytes;
  std::string etag;
};

// Reads a regular file (no symlink as the last part), capped in size.
std::optional<StaticFile> read_static(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxFileBytes)
    return std::nullopt;
  StaticFile out;
  out.bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.bytes.size()) {
    ssize_t n = ::read(fd.get(), out.bytes.data() + done, out.bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += static_cast<std::size_t>(n);
  }
  out.etag = "\"" + std::to_string(st.st_size) + "-" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + "\"";
  return out;
}

void set_security_headers(http::response<http::string_body>& res) {
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
}

}  // namespace

std::optional<std::string> find_console_dir() {
  const std::string dir = exe_dir();
  for (const auto& cand : {dir + "/console", dir + "/../share/kiln/console"}) {
    struct stat st {};
    if (::stat((cand + "/index.html").c_str(), &st) == 0 && S_ISREG(st.st_mode)) return cand;
  }
  return std::nullopt;
}

std::optional<std::string> console_file_for(const std::vector<std::string>& segments) {
  if (segments.empty()) return "index.html";
  if (segments[0] != "console") return std::nullopt;
  if (segments.size() == 1) return "index.html";
  if (segments.size() > 5) return std::nullopt;
  std::string rel;
  for (std::size_t i = 1; i < segments.size(); ++i) {
    if (!plain_name(segments[i])) return std::nullopt;
    rel += (i > 1 ? "/" : "") + segments[i];
  }
  return rel;
}

std::string console_content_type(const std::string& file) {
  auto dot = file.rfind('.');
  std::string ext = dot == std::string::npos ? "" : file.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "webmanifest") return "application/manifest+json";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

awaitable<void> handle_console(HttpContext& ctx) {
  const bool head = ctx.method() == http::verb::head;
  if (ctx.method() != http::verb::get && !head)
    throw ApiError(405, "method_not_allowed", "method not allowed");
  auto rel = console_file_for(ctx.segments());
  if (!rel) throw not_found("no such console file");
  auto dir = find_console_dir();
  if (!dir) {
    throw not_found(
        "the web console is not built: 'make build' puts it in build/console, next to kilnd");
  }
  auto file = read_static(*dir + "/" + *rel);
  if (!file) throw not_found("no such console file: " + *rel);

  http::response<http::string_body> res{http::status::ok, ctx.request().version()};
  set_security_headers(res);
  res.set(http::field::content_type, console_content_type(*rel));
  res.set(http::field::etag, file->etag);
  // Hashed names change with their content: safe to keep forever.
  const bool hashed = rel->rfind("assets/", 0) == 0;
  res.set(http::field::cache_control, hashed ? "public, max-age=31536000, immutable" : "no-cache");
  if (ctx.request()[http::field::if_none_match] == file->etag) {
    res.result(http::status::not_modified);
    co_return co_await ctx.send_response(res);
  }
  if (head) {
    res.content_length(file->bytes.size());
  } else {
    res.body() = std::move(file->bytes);
    res.prepare_payload();
  }
  co_return co_await ctx.send_response(res);
}

}  // namespace kiln::api
