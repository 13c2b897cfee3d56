#include "e2b/multipart.h"

#include <algorithm>
#include <cctype>

#include "common/ascii.h"

namespace kiln::e2b {

namespace {

std::string lower(std::string_view s) { return ascii_lower(s); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of `param` in a header value like `form-data; name="file"`
// (quoted or a bare token); "" when absent.
std::string header_param(std::string_view value, std::string_view param) {
  std::size_t i = value.find(';');
  while (i != std::string_view::npos) {
    std::string_view rest = trim(value.substr(i + 1));
    std::size_t eq = rest.find('=');
    std::size_t semi = rest.find(';');
    if (eq != std::string_view::npos && (semi == std::string_view::npos || eq < semi)) {
      if (lower(trim(rest.substr(0, eq))) == param) {
        std::string_view v = rest.substr(eq + 1);
        if (!v.empty() && v.front() == '"') {
          std::string out;
          for (std::size_t k = 1; k < v.size() && v[k] != '"'; ++k) {
            if (v[k] == '\\' && k + 1 < v.size()) ++k;
            out.push_back(v[k]);
          }
          return out;
        }
        return std::string(trim(v.substr(0, v.find(';'))));
      }
    }
    i = value.find(';', i + 1);
  }
  return "";
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  if (lower(trim(content_type.substr(0, content_type.find(';')))) != "multipart/form-data")
    return Status::invalid("not multipart/form-data");
  std::string b = header_param(content_type, "boundary");
  if (b.empty() || b.size() > 70) return Status::invalid("multipart boundary missing or too long");
  return b;
}

Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary) {
  const std::string delim = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  std::size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return Status::invalid("multipart body has no boundary");
  while (true) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // the closing boundary
    if (body.substr(pos, 2) != "\r\n") return Status::invalid("malformed multipart boundary line");
    pos += 2;
    const std::size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos)
      return Status::invalid("multipart part has no headers end");
    FormPart part;
    std::string_view headers = body.substr(pos, head_end - pos);
    while (!headers.empty()) {
      std::size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      if (lower(trim(line.substr(0, colon))) == "content-disposition") {
        std::string_view v = line.substr(colon + 1);
        part.name = header_param(v, "name");
        part.filename = header_param(v, "filename");
      }
    }
    const std::size_t data_start = head_end + 4;
    const std::size_t next = body.find("\r\n" + delim, data_start);
    if (next == std::string_view::npos) return Status::invalid("multipart body is not closed");
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    if (parts.size() > kMaxFormParts)
      return Status::invalid("more than " + std::to_string(kMaxFormParts) + " multipart parts");
    pos = next + 2;
  }
}

}  // namespace kiln::e2b
