// /v1/usage: the workspace's metered usage (active seconds are billed).
#include <ctime>
#include <iomanip>
#include <sstream>

#include "api/routes.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

// Accepts RFC 3339 ("2026-11-22T10:00:00Z", fractional seconds ignored) or a
// plain date ("2026-11-22", midnight UTC).
storage::TimePoint parse_time(const std::string& text, const char* name) {
  std::tm tm{};
  std::istringstream in(text);
  if (text.size() == 10) {
    in >> std::get_time(&tm, "%Y-%m-%d");
  } else {
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  }
  if (in.fail())
    throw bad_request(std::string("'") + name + "' must be an RFC 3339 time or a date");
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

}  // namespace

awaitable<void> handle_usage(HttpContext& ctx, Services& s) {
  if (ctx.method() != http::verb::get || ctx.segments().size() != 2)
    throw not_found("no such route");
  if (s.ledger == nullptr) throw ApiError(503, "unavailable", "usage metering is not configured");
  const auto from =
      ctx.has_query("from") ? parse_time(ctx.query("from"), "from") : storage::TimePoint{};
  // No 'to': everything from 'from' on (a year 2100 bound keeps the
  // millisecond arithmetic far from overflow).
  const auto to =
      ctx.has_query("to") ? parse_time(ctx.query("to"), "to") : parse_time("2100-01-01", "to");
  if (to < from) throw bad_request("'to' is before 'from'");
  // Live sandboxes' latest totals first, so the answer includes them, and
  // every usage write queued so far landed (read your own runs).
  for (auto& sbx : s.manager.list(ctx.workspace())) s.manager.record_usage(*sbx);
  co_await s.manager.usage_written();
  auto sum = s.ledger->summary(ctx.workspace(), from, to);
  if (!sum) throw api_error_from(sum.status());
  auto credits = s.ledger->credits(ctx.workspace());
  json by_day = json::array();
  for (const auto& d : sum->by_day) {
    by_day.push_back({{"date", d.date},
                      {"sandboxes", d.sandboxes},
                      {"session_seconds", d.session_seconds},
                      {"active_seconds", d.active_seconds},
                      {"cpu_seconds", d.cpu_seconds},
                      {"executions", d.executions}});
  }
  json body = {{"workspace", ctx.workspace()},
               {"sandboxes", sum->sandboxes},
               {"session_seconds", sum->session_seconds},
               {"active_seconds", sum->active_seconds},
               {"cpu_seconds", sum->cpu_seconds},
               {"executions", sum->executions},
               {"credits", credits && credits->has_value() ? json(**credits) : json(nullptr)},
               {"by_day", by_day}};
  co_return co_await ctx.send_json(200, body);
}

}  // namespace kiln::api
