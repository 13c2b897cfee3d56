// kiln repl: an interactive session on one sandbox.
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/cell_input.h"
#include "cli/commands.h"
#include "cli/executor.h"
#include "cli/interrupt.h"
#include "cli/language.h"
#include "cli/line_editor.h"
#include "cli/progress.h"

namespace kiln::cli {
using nlohmann::json;

namespace {

// A sandbox the REPL made lives this long past the last cell.
constexpr int kIdleTimeoutS = 900;
// An interrupted run may need a moment to stop before the context takes
// the next cell (kilnd answers 409 meanwhile).
constexpr auto kBusyRetryFor = std::chrono::seconds(5);

struct ReplOptions {
  std::string lang = "python";
  std::string sandbox;
  bool keep = false;
  std::string out_dir = ".";
  bool no_history = false;
};

std::string strip_trailing_blank_lines(std::string code) {
  while (!code.empty() && (code.back() == '\n' || code.back() == ' ' || code.back() == '\t'))
    code.pop_back();
  return code;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r") == std::string::npos; }

// Runs one cell, retrying while the context is still busy with an
// interrupted run.
Result<ExecOutcome> run_cell(const ApiClient& api, const ExecRequest& req, ResultSaver& saver) {
  ExecDisplay display;
  display.progress = stderr_is_terminal();
  const auto deadline = std::chrono::steady_clock::now() + kBusyRetryFor;
  while (true) {
    auto out = execute_code(api, req, saver, display);
    if (out || http_status_of(out.status()) != 409 || std::chrono::steady_clock::now() > deadline ||
        interrupt::pending())
      return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int repl(Context& ctx, const ReplOptions& o) {
  auto lang = normalize_language(o.lang);
  if (!lang) return report(lang.status());
  if (auto s = ensure_dir(o.out_dir); !s) return report(s);
  auto api = ctx.api();
  if (!api) return report(api.status());
  std::string sandbox = o.sandbox;
  const bool created = sandbox.empty();
  if (created) {
    auto sb = (*api)->post("/v1/sandboxes", {{"timeout_s", kIdleTimeoutS}});
    if (!sb) return report("cannot create a sandbox: " + sb.status().message());
    sandbox = cell(*sb, "id");
  } else if (auto sb = (*api)->get("/v1/sandboxes/" + url_encode(sandbox)); !sb) {
    return report(sb.status());
  }
  interrupt::install();
  const Env env = process_env();
  LineEditor editor(o.no_history ? "" : default_history_path(env));
  if (editor.interactive()) {
    std::fprintf(stderr,
                 "kiln repl: %s in %s at %s\n"
                 "Enter runs a cell (a blank line ends a block); Ctrl-C interrupts a run, "
                 "Ctrl-D exits%s.\n",
                 lang->c_str(), sandbox.c_str(), ctx.settings().url.c_str(),
                 created && !o.keep ? " and deletes the sandbox" : "");
  }
  ResultSaver saver(o.out_dir);
  int status = kExitOk;
  bool any_failed = false;
  bool done = false;
  while (!done) {
    std::string code;
    std::string prompt = ">>> ";
    while (true) {
      auto in = editor.read(editor.interactive() ? prompt : "");
      if (in.kind == LineEditor::Kind::kEof) {
        done = true;
        break;
      }
      if (in.kind == LineEditor::Kind::kInterrupted) {
        code.clear();
        prompt = ">>> ";
        continue;
      }
      if (code.empty() && blank(in.line)) continue;
      code = code.empty() ? in.line : code + "\n" + in.line;
      if (cell_complete(code, *lang)) break;
      prompt = "... ";
    }
    code = strip_trailing_blank_lines(code);
    if (code.empty()) continue;
    editor.remember(code);
    if (created) {
      // Best effort: keeps the REPL's sandbox alive while it is used.
      (void)(*api)->post("/v1/sandboxes/" + url_encode(sandbox) + "/timeout",
                         {{"timeout_s", kIdleTimeoutS}});
    }
    ExecRequest req;
    req.sandbox_id = sandbox;
    req.code = code;
    req.language = *lang == "python" ? "" : *lang;
    auto out = run_cell(**api, req, saver);
    if (!out) {
      report(out.status());
      if (http_status_of(out.status()) == 404) {  // the sandbox is gone
        status = kExitError;
        break;
      }
      continue;
    }
    if (!out->ended_line) std::fputs("\n", stdout);
    if (interrupt::quit_signal()) break;  // SIGTERM or SIGHUP: clean up and go
    if (out->interrupted) {
      interrupt::clear();
      std::fputs("KeyboardInterrupt: the run was interrupted\n", stderr);
    } else if (!out->error.is_null()) {
      any_failed = true;
    }
  }
  if (created && !o.keep) {
    if (auto d = (*api)->del("/v1/sandboxes/" + url_encode(sandbox));
        !d && http_status_of(d.status()) != 404) {
      report("could not delete sandbox " + sandbox + ": " + d.status().message());
      status = kExitError;
    }
  } else if (created) {
    std::fprintf(stderr, "kept sandbox %s\n", sandbox.c_str());
  }
  if (status == kExitOk && any_failed && !editor.interactive()) status = kExitCodeFailed;
  return status;
}

}  // namespace

void add_repl_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ReplOptions>();
  auto* cmd = app.add_subcommand("repl", "An interactive session in one sandbox");
  cmd->add_option("-l,--lang", o->lang, "python (default), javascript, typescript or bash");
  cmd->add_option("-s,--sandbox", o->sandbox,
                  "Use this existing sandbox (kept on exit) instead of a new one");
  cmd->add_flag("-k,--keep", o->keep, "Keep the sandbox made for the session on exit");
  cmd->add_option("-o,--out-dir", o->out_dir, "Where rich results go (default: .)");
  cmd->add_flag("--no-history", o->no_history, "Neither read nor save the history file");
  cmd->footer(
      "Variables, imports and files persist from cell to cell. A cell is sent when it is "
      "complete: open brackets, strings and Python blocks (ended by a blank line) continue "
      "on a '... ' line. Ctrl-C during a run interrupts the run (the session and its state "
      "stay); at the prompt it drops the line. Ctrl-D exits. History is kept in "
      "~/.local/state/kiln/history ($XDG_STATE_HOME/kiln/history).\n\n"
      "With stdin not a terminal, lines are read without prompts and the exit status is 2 "
      "if any cell raised.");
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return repl(ctx, *o); }; });
}

}  // namespace kiln::cli
