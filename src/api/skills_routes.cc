// /v1/skills: the skill registry (SKILL.md folders, also mounted read-only
// at /skills in every sandbox).
#include "api/routes.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

awaitable<void> handle_skills(HttpContext& ctx, Services& s) {
  if (ctx.method() != http::verb::get)
    throw ApiError(405, "method_not_allowed", "method not allowed");
  if (s.skills == nullptr) throw ApiError(503, "unavailable", "no skills folder is configured");
  const auto& seg = ctx.segments();
  if (seg.size() == 2) {
    json list = json::array();
    for (const auto& k : s.skills->list())
      list.push_back({{"name", k.name}, {"description", k.description}});
    json body = {{"skills", list}};
    co_return co_await ctx.send_json(200, body);
  }
  const std::string& name = seg[2];
  if (seg.size() == 3) {
    auto skill = s.skills->get(name);
    if (!skill) throw not_found("skill " + name + " not found");
    json body = {{"name", skill->name},
                 {"description", skill->description},
                 {"body", skill->body},
                 {"files", skill->files}};
    co_return co_await ctx.send_json(200, body);
  }
  if (seg.size() >= 5 && seg[3] == "files") {
    std::string rel;
    for (std::size_t i = 4; i < seg.size(); ++i) rel += (i > 4 ? "/" : "") + seg[i];
    auto bytes = s.skills->read_file(name, rel, s.manager.config().file_cap_bytes);
    if (!bytes) {
      if (bytes.status().kind() == ErrorKind::kNotFound)
        throw not_found("skill file " + name + "/" + rel + " not found");
      throw api_error_from(bytes.status());
    }
    co_return co_await ctx.send_bytes(200, "application/octet-stream", std::move(*bytes));
  }
  throw not_found("no such route");
}

}  // namespace kiln::api
