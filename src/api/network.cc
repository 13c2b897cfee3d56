// /v1/sandboxes/{id}/network: read or change a live sandbox's egress
// policy; /network/log: its egress log.
#include "api/routes.h"
#include "egress/policy.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

json network_json(const sandbox::Sandbox& sbx) {
  const auto& e = *sbx.egress;
  return {{"network", e.policy.to_json()},
          {"bytes_up", e.bytes_up},
          {"bytes_down", e.bytes_down},
          {"egress_bytes", e.bytes_up + e.bytes_down},
          {"open_connections", e.open_tunnels()}};
}

}  // namespace

awaitable<void> handle_network(HttpContext& ctx, Manager& m,
                               std::shared_ptr<sandbox::Sandbox> sbx) {
  const auto& seg = ctx.segments();
  const auto method = ctx.method();
  if (!sbx->egress) throw api_error_from(Status::unavailable("sandbox has no egress proxy"));
  if (seg.size() == 4) {
    if (method == http::verb::get) co_return co_await ctx.send_json(200, network_json(*sbx));
    if (method == http::verb::patch || method == http::verb::put) {
      // {"network": <policy>}, or the policy's own {"allow", "deny"} object.
      json body = ctx.json_body({"network", "allow", "deny"});
      json value;
      if (body.contains("network")) {
        if (body.contains("allow") || body.contains("deny"))
          throw bad_request("give either 'network' or 'allow'/'deny', not both");
        value = body["network"];
      } else if (body.contains("allow") || body.contains("deny")) {
        value = body;
      } else {
        throw bad_request("'network' is required");
      }
      auto policy = egress::parse_policy(value);
      if (!policy) throw bad_request(policy.status().message());
      auto closed = m.set_network(*sbx, std::move(*policy));
      if (!closed) throw api_error_from(closed.status());
      json out = network_json(*sbx);
      out["connections_closed"] = *closed;
      co_return co_await ctx.send_json(200, out);
    }
    throw ApiError(405, "method_not_allowed", "method not allowed");
  }
  if (seg.size() == 5 && seg[4] == "log") {
    if (method != http::verb::get) throw ApiError(405, "method_not_allowed", "method not allowed");
    std::size_t limit = 1000;
    if (ctx.has_query("limit")) {
      const std::string l = ctx.query("limit");
      if (l.empty() || l.size() > 6 || l.find_first_not_of("0123456789") != std::string::npos)
        throw bad_request("'limit' must be an integer");
      limit = std::stoul(l);
    }
    const auto& e = *sbx->egress;
    json out = {{"entries", e.log.to_json(sbx->id, sbx->workspace, limit)},
                {"dropped", e.log.dropped()},
                {"bytes_up", e.bytes_up},
                {"bytes_down", e.bytes_down}};
    co_return co_await ctx.send_json(200, out);
  }
  throw not_found("no such route");
}

}  // namespace kiln::api
