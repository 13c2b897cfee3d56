// /v1/validate and /v1/test: checking code before and after running it.
#include <regex>

#include "api/routes.h"
#include "common/bounded_json.h"
#include "common/languages.h"
#include "sandbox/run.h"

namespace kiln::api {

using boost::asio::awaitable;
using nlohmann::json;

namespace {

struct WarningRule {
  std::string rule, message;
  std::vector<std::string> languages;
  std::regex pattern;
};

// Advisory only: a warning never makes code invalid.
const std::vector<WarningRule>& warning_rules() {
  static const std::vector<WarningRule> rules = [] {
    struct Raw {
      const char *rule, *pattern, *message;
      std::vector<std::string> languages;
    };
    std::vector<Raw> raw = {
        {"subprocess",
         R"(\bsubprocess\b|\bos\.(system|popen|exec\w*|spawn\w*)\s*\()",
         "starts other processes",
         {"python"}},
        {"eval",
         R"(\beval\s*\()",
         "evaluates a string as code",
         {"python", "javascript", "typescript"}},
        {"exec", R"(\bexec\s*\()", "executes a string as code", {"python"}},
        {"child_process",
         R"(child_process)",
         "starts other processes",
         {"javascript", "typescript"}},
        {"network",
         R"(\b(requests|urllib|http\.client|socket|fetch)\b)",
         "network access: sandboxes have no network",
         {"python", "javascript", "typescript"}},
        {"network",
         R"(\b(curl|wget|nc|ssh)\b)",
         "network access: sandboxes have no network",
         {"bash"}},
        {"destructive",
         R"(\brm\s+-[a-zA-Z]*r[a-zA-Z]*f?\s+/(\s|$))",
         "removes the whole filesystem",
         {"bash"}},
    };
    std::vector<WarningRule> out;
    for (auto& r : raw) out.push_back({r.rule, r.message, r.languages, std::regex(r.pattern)});
    return out;
  }();
  return rules;
}

json warnings_for(const std::string& code, const std::string& language) {
  json out = json::array();
  std::size_t line_no = 0, start = 0;
  while (start <= code.size()) {
    auto end = code.find('\n', start);
    if (end == std::string::npos) end = code.size();
    ++line_no;
    const std::string line = code.substr(start, end - start);
    for (const auto& r : warning_rules()) {
      if (std::find(r.languages.begin(), r.languages.end(), language) == r.languages.end())
        continue;
      if (std::regex_search(line, r.pattern)) {
        out.push_back({{"line", line_no}, {"rule", r.rule}, {"message", r.message}});
      }
    }
    start = end + 1;
  }
  return out;
}

std::string checker_command(const std::string& language) {
  const Language* l = find_language(language);
  return l ? l->checker_command : "";
}

struct CodeRequest {
  std::string code, language;
};

CodeRequest parse_code_request(const json& body, const Config& config) {
  CodeRequest r;
  if (!body.contains("code") || !body["code"].is_string())
    throw bad_request("'code' (a string) is required");
  r.code = body["code"];
  if (r.code.size() > config.max_code_bytes) {
    throw ApiError(413, "too_large",
                   "'code' is " + std::to_string(r.code.size()) + " bytes, over the " +
                       std::to_string(config.max_code_bytes) + "-byte limit");
  }
  // JSON parsing already refused invalid UTF-8; a NUL can still arrive escaped.
  if (r.code.find('\0') != std::string::npos) throw bad_request("'code' contains a NUL byte");
  r.language = body.value("language", std::string(kDefaultLanguage));
  if (checker_command(r.language).empty()) {
    throw bad_request("unsupported language: " + r.language + " (supported: " + language_names() +
                      ")");
  }
  return r;
}

awaitable<void> handle_validate(HttpContext& ctx, Manager& m) {
  CodeRequest req = parse_code_request(ctx.json_body({"code", "language"}), m.config());
  auto sbx = co_await m.system_sandbox();
  if (!sbx) throw api_error_from(sbx.status());
  // The daemon's own sandbox: parsing is not billed to anyone.
  auto out = co_await sandbox::run_command(m, *sbx, checker_command(req.language), req.code, 15000,
                                           "/home/user", /*metered=*/false);
  if (!out) throw api_error_from(out.status());
  json errors = untrusted_json(out->stdout_text);
  if (errors.is_discarded() || !errors.is_array()) {
    throw ApiError(500, "internal", "the " + req.language + " checker failed: " + out->stderr_text);
  }
  json response = {{"valid", errors.empty()},
                   {"errors", errors},
                   {"warnings", warnings_for(req.code, req.language)}};
  co_return co_await ctx.send_json(200, response);
}

// One call of a test: the call's value as JSON, printed on a line of its own.
std::string call_code(const std::string& language, const std::string& call) {
  if (language == "python") {
    return "import json as __kiln_json\nprint('\\n__kiln_result__' + __kiln_json.dumps((" + call +
           "\n), default=repr))";
  }
  return "console.log('\\n__kiln_result__' + JSON.stringify(await (" + call + "\n)))";
}

bool json_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    return std::abs(x - y) <= 1e-9 * std::max({1.0, std::abs(x), std::abs(y)});
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!json_equal(a[i], b[i])) return false;
    return true;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it)
      if (!b.contains(it.key()) || !json_equal(it.value(), b[it.key()])) return false;
    return true;
  }
  return a == b;
}

std::string describe_error(const json& e) {
  return e.value("name", "Error") + ": " + e.value("value", "");
}

awaitable<void> handle_test(HttpContext& ctx, Manager& m) {
  json body = ctx.json_body({"code", "language", "tests"});
  CodeRequest req = parse_code_request(body, m.config());
  if (const Language* l = find_language(req.language); l == nullptr || !l->testable) {
    std::string testable;
    for (const auto& x : languages())
      if (x.testable) testable += (testable.empty() ? "" : ", ") + std::string(x.name);
    throw bad_request("test supports " + testable);
  }
  if (!body.contains("tests") || !body["tests"].is_array() || body["tests"].empty()) {
    throw bad_request("'tests' must be a non-empty array of {call, expected}");
  }
  if (body["tests"].size() > 100) throw bad_request("at most 100 tests per request");
  for (const auto& t : body["tests"]) {
    if (!t.is_object() || !t.contains("call") || !t["call"].is_string()) {
      throw bad_request("each test needs 'call' (a string) and 'expected'");
    }
    reject_unknown_fields(t, {"call", "expected"}, "tests[].");
  }
  // A fresh sandbox in the caller's workspace (metered like any other),
  // ended when the tests are done.
  sandbox::CreateRequest create;
  create.workspace = ctx.workspace();
  create.limits = m.config().default_limits;
  auto made = co_await m.create(std::move(create));
  if (!made) throw api_error_from(made.status());
  auto sbx = made->first;
  json results = json::array();
  int passed = 0;
  std::optional<ApiError> failure;
  {
    auto context = co_await m.resolve_context(sbx, "", req.language);
    const std::uint64_t timeout_ms = sbx->limits.exec_timeout_s * 1000;
    std::optional<sandbox::RunOutcome> setup;
    if (!context) {
      failure = api_error_from(context.status());
    } else {
      auto ran = co_await sandbox::run_code(m, sbx, context->id, req.code, timeout_ms, 1 << 20);
      if (!ran)
        failure = api_error_from(ran.status());
      else
        setup = std::move(*ran);
    }
    for (const auto& t : body["tests"]) {
      if (failure) break;
      json expected = t.value("expected", json(nullptr));
      json r = {{"call", t["call"]},
                {"expected", expected},
                {"actual", nullptr},
                {"passed", false},
                {"error", nullptr}};
      if (!setup->error.is_null()) {
        r["error"] = "the code failed before the tests ran: " + describe_error(setup->error);
      } else {
        auto ran = co_await sandbox::run_code(
            m, sbx, context->id, call_code(req.language, t["call"]), timeout_ms, 1 << 20);
        if (!ran) {
          r["error"] = ran.status().message();
        } else if (!ran->error.is_null()) {
          r["error"] = describe_error(ran->error);
        } else {
          const auto marker = ran->stdout_text.rfind("__kiln_result__");
          json actual = marker == std::string::npos
                            ? json(nullptr)
                            : untrusted_json(ran->stdout_text.substr(marker + 15));
          if (actual.is_discarded()) actual = nullptr;
          r["actual"] = actual;
          r["passed"] = json_equal(actual, expected);
          if (r["passed"]) ++passed;
        }
      }
      results.push_back(r);
    }
  }
  co_await m.destroy(sbx->id);
  if (failure) throw *failure;
  json response = {{"total", results.size()}, {"passed", passed}, {"results", results}};
  co_return co_await ctx.send_json(200, response);
}

}  // namespace

awaitable<void> handle_checks(HttpContext& ctx, Manager& m) {
  if (ctx.method() != http::verb::post || ctx.segments().size() != 2)
    throw not_found("no such route");
  if (ctx.segments()[1] == "validate") co_return co_await handle_validate(ctx, m);
  co_return co_await handle_test(ctx, m);
}

}  // namespace kiln::api
