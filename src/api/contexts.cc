// /v1/sandboxes/{id}/contexts: stateful interpreters.
#include "api/routes.h"
#include "common/languages.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

json context_json(const sandbox::ContextInfo& c) {
  return {{"id", c.id}, {"language", c.language}, {"cwd", c.cwd}, {"default", c.is_default}};
}

}  // namespace

awaitable<void> handle_contexts(HttpContext& ctx, Manager& m,
                                std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  if (seg.size() == 4) {
    if (method == http::verb::get) {
      json list = json::array();
      for (auto& [id, c] : sbx->contexts) list.push_back(context_json(c));
      nlohmann::json lit1_ = {{"contexts", list}};
      co_return co_await ctx.send_json(200, lit1_);
    }
    if (method == http::verb::post) {
      auto body = ctx.json_body({"language", "cwd"});
      std::string language(kDefaultLanguage), cwd = "/home/user";
      if (body.contains("language")) {
        if (!body["language"].is_string()) throw bad_request("'language' must be a string");
        language = body["language"];
      }
      if (body.contains("cwd")) {
        if (!body["cwd"].is_string()) throw bad_request("'cwd' must be a string");
        cwd = body["cwd"];
      }
      auto made = co_await m.create_context(sbx, language, cwd);
      if (!made) throw api_error_from(made.status());
      co_return co_await ctx.send_json(201, context_json(*made));
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  const std::string& cid = seg[4];
  if (!sbx->contexts.count(cid)) throw not_found("context " + cid + " not found");
  if (seg.size() == 5 && method == http::verb::delete_) {
    if (auto s = co_await m.delete_context(sbx, cid, false); !s) throw api_error_from(s);
    co_return co_await ctx.send_empty(204);
  }
  if (seg.size() == 5 && method == http::verb::get) {
    co_return co_await ctx.send_json(200, context_json(sbx->contexts.at(cid)));
  }
  if (seg.size() == 6 && seg[5] == "restart" && method == http::verb::post) {
    if (auto s = co_await m.delete_context(sbx, cid, true); !s) throw api_error_from(s);
    auto it = sbx->contexts.find(cid);
    if (it == sbx->contexts.end()) throw not_found("context " + cid + " not found");
    co_return co_await ctx.send_json(200, context_json(it->second));
  }
  throw not_found("no such route");
}

}  // namespace kiln::api
