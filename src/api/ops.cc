// /healthz and /metrics.
#include "api/routes.h"
#include "egress/log.h"

namespace kiln::api {

using boost::asio::awaitable;

awaitable<void> handle_ops(HttpContext& ctx, Manager& m) {
  if (ctx.method() != http::verb::get)
    throw ApiError(405, "method_not_allowed", "method not allowed");
  if (ctx.segments()[0] == "healthz") {
    nlohmann::json lit1_ = {{"status", "ok"}, {"version", KILN_VERSION}};
    co_return co_await ctx.send_json(200, lit1_);
  }
  auto& s = m.stats();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, double v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  metric("kiln_sandboxes_live", "gauge", "Sandboxes handed out and running.",
         static_cast<double>(m.live()));
  metric("kiln_pool_ready", "gauge", "Warm sandboxes ready in the pool.",
         static_cast<double>(m.pool_ready()));
  metric("kiln_sandboxes_created_total", "counter", "Sandboxes created.",
         static_cast<double>(s.created));
  metric("kiln_sandboxes_destroyed_total", "counter", "Sandboxes ended (incl. pool).",
         static_cast<double>(s.destroyed));
  metric("kiln_sandboxes_expired_total", "counter", "Sandboxes ended by their TTL.",
         static_cast<double>(s.expired));
  metric("kiln_pool_hits_total", "counter", "Creates served from the warm pool.",
         static_cast<double>(s.pool_hits));
  metric("kiln_executions_total", "counter", "Code executions.", static_cast<double>(s.executions));
  const auto& e = egress::counters();
  out +=
      "# HELP kiln_egress_connections_total Sandbox proxy connections by decision.\n"
      "# TYPE kiln_egress_connections_total counter\n"
      "kiln_egress_connections_total{decision=\"allowed\"} " +
      std::to_string(e.allowed) + "\nkiln_egress_connections_total{decision=\"denied\"} " +
      std::to_string(e.denied) + "\n";
  out +=
      "# HELP kiln_egress_bytes_total Bytes through sandbox proxies by direction.\n"
      "# TYPE kiln_egress_bytes_total counter\n"
      "kiln_egress_bytes_total{direction=\"up\"} " +
      std::to_string(e.bytes_up) + "\nkiln_egress_bytes_total{direction=\"down\"} " +
      std::to_string(e.bytes_down) + "\n";
  co_return co_await ctx.send_bytes(200, "text/plain; version=0.0.4", out);
}

}  // namespace kiln::api
