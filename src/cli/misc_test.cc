// Unit tests of the small pieces: NDJSON lines, languages, error messages,
// progress rendering, query encoding, completion scripts.
#include <gtest/gtest.h>

#include <vector>

#include "cli/api_client.h"
#include "cli/app.h"
#include "cli/completion.h"
#include "cli/executor.h"
#include "cli/language.h"
#include "cli/ndjson.h"
#include "cli/progress.h"

namespace kiln::cli {
namespace {

TEST(LineSplitter, JoinsPiecesAndSplitsLines) {
  std::vector<std::string> lines;
  LineSplitter s([&lines](std::string_view l) { lines.emplace_back(l); });
  s.feed("{\"a\":");
  s.feed("1}\n{\"b\"");
  s.feed(":2}\r\n\n{\"c\":3}\n{\"d\"");
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  s.finish();
  EXPECT_EQ(lines.back(), "{\"d\"");
}

TEST(Language, FromNamesExtensionsAndShebangs) {
  EXPECT_EQ(*normalize_language("py"), "python");
  EXPECT_EQ(*normalize_language("js"), "javascript");
  EXPECT_EQ(*normalize_language("ts"), "typescript");
  EXPECT_EQ(*normalize_language("sh"), "bash");
  EXPECT_FALSE(normalize_language("ruby"));
  EXPECT_EQ(*detect_language("a/b/plot.py", ""), "python");
  EXPECT_EQ(*detect_language("x.mjs", ""), "javascript");
  EXPECT_EQ(*detect_language("x.ts", ""), "typescript");
  EXPECT_EQ(*detect_language("job.sh", ""), "bash");
  EXPECT_EQ(*detect_language("script", "#!/usr/bin/env python3\nprint(1)"), "python");
  EXPECT_EQ(*detect_language("tool", "#!/usr/bin/env node\n"), "javascript");
  EXPECT_EQ(*detect_language("run", "#!/bin/bash\n"), "bash");
  auto unknown = detect_language("dir.v2/notes", "text");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.status().message().find("--lang"), std::string::npos);
}

TEST(ApiError, KilndErrorsReadAsOneLine) {
  EXPECT_EQ(api_error_message(
                404, R"({"error":{"code":"not_found","message":"sandbox sbx_x not found"}})"),
            "sandbox sbx_x not found (404 not_found)");
  const std::string unauthorized =
      api_error_message(401, R"({"error":{"code":"unauthorized","message":"missing API key"}})");
  EXPECT_EQ(unauthorized.rfind("missing API key (401 unauthorized); give a key with", 0), 0u);
  EXPECT_EQ(api_error_message(502, "<html>\nBad\nGateway</html>"),
            "kilnd answered HTTP 502: <html> Bad Gateway</html>");
  EXPECT_EQ(api_error_message(500, ""), "kilnd answered HTTP 500");
  EXPECT_EQ(api_error_message(400, R"({"error":{"message":"two\nlines"}})"), "two lines (400)");
  Status s = Status::of(ErrorKind::kConflict, "x", kHttpErrnoBase + 409);
  EXPECT_EQ(http_status_of(s), 409);
  EXPECT_EQ(http_status_of(Status::of(ErrorKind::kInternal, "y", 4)), 0);
}

TEST(UrlEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(url_encode("/data/q 4.csv"), "%2Fdata%2Fq%204.csv");
  EXPECT_EQ(url_encode("a-b_c.d~"), "a-b_c.d~");
  EXPECT_EQ(url_encode("é&="), "%C3%A9%26%3D");
}

TEST(Progress, Rendering) {
  EXPECT_EQ(render_bar("uploading a.csv", 512, 1024, 80),
            "uploading a.csv  [###############...............]  50%  512 B / 1.0 KiB");
  EXPECT_EQ(render_bar("downloading x", 2048, std::nullopt, 80), "downloading x  2.0 KiB");
  EXPECT_EQ(render_bar("u", 5000, 1000, 80).find("100%") != std::string::npos, true);
  EXPECT_EQ(render_spinner("running a.py", std::chrono::milliseconds(3250)),
            "| running a.py 3.2 s");
}

TEST(Executor, ErrorsReadLikeTheInterpreter) {
  EXPECT_EQ(format_error({{"name", "CommandError"}, {"value", "exit status 2"}, {"traceback", ""}}),
            "CommandError: exit status 2\n");
  EXPECT_EQ(format_error({{"name", "ZeroDivisionError"},
                          {"value", "division by zero"},
                          {"traceback", "Traceback...\nZeroDivisionError: division by zero\n"}}),
            "Traceback...\nZeroDivisionError: division by zero\n");
  EXPECT_EQ(format_error({{"name", "TimeoutError"},
                          {"value", "timed out"},
                          {"traceback", "Traceback...\nKeyboardInterrupt\n"}}),
            "Traceback...\nKeyboardInterrupt\nTimeoutError: timed out\n");
  ExecRequest req;
  req.code = "1";
  req.language = "bash";
  req.timeout_s = 5;
  EXPECT_EQ(exec_body(req),
            nlohmann::json({{"code", "1"}, {"language", "bash"}, {"timeout_s", 5}}));
}

TEST(Completion, ScriptsCoverTheCommandTree) {
  Context ctx;
  auto app = make_app(ctx);
  const std::string bash = bash_completion(*app);
  EXPECT_NE(bash.find("complete -o default -F _kiln kiln"), std::string::npos);
  EXPECT_NE(bash.find("\"/sandboxes\") subs=\"ls inspect create rm\""), std::string::npos);
  EXPECT_NE(bash.find("/drive/put"), std::string::npos);
  const std::string zsh = zsh_completion(*app);
  EXPECT_EQ(zsh.rfind("#compdef kiln\n", 0), 0u);
  EXPECT_NE(zsh.find("'repl:An interactive session in one sandbox'"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cli
