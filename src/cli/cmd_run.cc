// kiln run FILE|-: one file in a sandbox, output streamed as it comes.
#include <csignal>
#include <memory>

#include "cli/commands.h"
#include "cli/executor.h"
#include "cli/interrupt.h"
#include "cli/language.h"
#include "cli/progress.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

struct RunOptions {
  std::string file;
  std::string lang;
  std::string sandbox;
  bool keep = false;
  std::string out_dir = ".";
  int timeout_s = 0;
  std::vector<std::string> env;
};

json outcome_json(const ExecOutcome& out, const std::string& sandbox, const std::string& language,
                  bool kept) {
  json files = json::array();
  for (const auto& f : out.files)
    files.push_back({{"path", f.path}, {"kind", f.kind}, {"size", f.size}});
  json j = {
      {"sandbox_id", sandbox},
      {"sandbox_kept", kept},
      {"language", language},
      {"stdout", out.stdout_text},
      {"stderr", out.stderr_text},
      {"results", out.results},
      {"files", files},
      {"error", out.error},
      {"interrupted", out.interrupted},
      {"execution_count", out.end.is_object() ? out.end.value("execution_count", json()) : json()},
      {"duration_ms", out.end.is_object() ? out.end.value("duration_ms", json()) : json()}};
  return j;
}

int run_file(Context& ctx, const RunOptions& o) {
  auto code = read_input(o.file);
  if (!code) return report(code.status());
  std::string language;
  if (!o.lang.empty()) {
    auto l = normalize_language(o.lang);
    if (!l) return report(l.status());
    language = *l;
  } else if (o.file == "-") {
    language = "python";
  } else {
    auto l = detect_language(o.file, *code);
    if (!l) return report(l.status());
    language = *l;
  }
  auto env = parse_env_pairs(o.env);
  if (!env) return report(env.status());
  if (auto s = ensure_dir(o.out_dir); !s) return report(s);
  auto api = ctx.api();
  if (!api) return report(api.status());

  std::string sandbox = o.sandbox;
  const bool created = sandbox.empty();
  if (created) {
    auto sb = (*api)->post("/v1/sandboxes", json::object());
    if (!sb) return report("cannot create a sandbox: " + sb.status().message());
    sandbox = cell(*sb, "id");
  }
  interrupt::install();
  // A closed pipe is noticed as a failed write (and ends the run) instead
  // of killing kiln before it deletes the sandbox.
  std::signal(SIGPIPE, SIG_IGN);
  ExecRequest req;
  req.sandbox_id = sandbox;
  req.code = std::move(*code);
  req.language = language == "python" ? "" : language;
  req.timeout_s = o.timeout_s;
  req.env = std::move(*env);
  ResultSaver saver(o.out_dir);
  ExecDisplay display;
  display.live = !ctx.json;
  display.progress = stderr_is_terminal();
  display.label = "running " + (o.file == "-" ? std::string("stdin") : base_name(o.file));
  auto out = execute_code(**api, req, saver, display);

  const bool kept = !created || o.keep;
  Status cleanup;
  if (!kept) {
    if (auto d = (*api)->del("/v1/sandboxes/" + url_encode(sandbox)); !d)
      cleanup =
          Status::internal("could not delete sandbox " + sandbox + ": " + d.status().message());
  }
  if (!out) {
    report(out.status());
    if (!cleanup) report(cleanup);
    return kExitError;
  }
  if (ctx.json) {
    print_json(outcome_json(*out, sandbox, language, kept));
  } else if (created && o.keep) {
    std::fprintf(stderr, "kept sandbox %s\n", sandbox.c_str());
  }
  if (!cleanup) report(cleanup);
  if (out->output_closed) return kExitOutputClosed;
  if (out->interrupted) {
    if (!ctx.json) report("interrupted");
    return interrupt::quit_signal() ? 128 + interrupt::quit_signal() : kExitInterrupted;
  }
  if (!out->error.is_null()) return kExitCodeFailed;
  return cleanup ? kExitOk : kExitError;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_env_pairs(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> env;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      return Status::internal("--env wants KEY=VALUE, got '" + p + "'");
    env[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return env;
}

void add_run_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand(
      "run", "Run a file in a sandbox; its output streams live, rich results are saved as files");
  cmd->add_option("file", o->file,
                  "The code: a .py, .js, .mjs, .cjs, .ts or .sh file, or - for stdin")
      ->required();
  cmd->add_option("-l,--lang", o->lang,
                  "python, javascript, typescript or bash (default: from the extension; "
                  "python for stdin)");
  cmd->add_option("-s,--sandbox", o->sandbox,
                  "Run in this existing sandbox (kept afterwards) instead of a new one");
  cmd->add_flag("-k,--keep", o->keep, "Keep the new sandbox afterwards (its id is printed)");
  cmd->add_option("-o,--out-dir", o->out_dir,
                  "Where rich results go: result-1.png, result-2.html, ... (default: .)");
  cmd->add_option("-t,--timeout", o->timeout_s,
                  "Seconds the code may run (default: the sandbox's exec_timeout_s)")
      ->check(CLI::Range(1, 86400));
  cmd->add_option("-e,--env", o->env, "KEY=VALUE for this run (repeatable)");
  cmd->footer(
      "Exit status: 0 when the code ran cleanly, 2 when it raised (or a bash script exited "
      "non-zero), 1 for an API or usage error, 130 when interrupted with Ctrl-C, 141 when "
      "nobody reads the output any more (kiln run x.py | head): the run is stopped and the "
      "sandbox deleted.\n\n"
      "Examples:\n"
      "  kiln run analysis.py\n"
      "  kiln run --out-dir charts --keep plot.py\n"
      "  echo 'console.log(6*7)' | kiln run --lang js -\n"
      "  kiln run --json job.sh | jq .error");
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return run_file(ctx, *o); }; });
}

}  // namespace kiln::cli
