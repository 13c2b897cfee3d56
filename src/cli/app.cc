#include "cli/app.h"

#include <iostream>

#include "cli/commands.h"

namespace kiln::cli {

std::unique_ptr<CLI::App> make_app(Context& ctx) {
  auto app = std::make_unique<CLI::App>(
      "kiln: run Python, JavaScript, TypeScript and Bash in kilnd's sandboxes", "kiln");
  app->set_version_flag("--version", "kiln " KILN_VERSION);
  app->add_option("--url", ctx.flags.url,
                  "kilnd's URL (else $KILN_URL, else url in the config file, else "
                  "http://127.0.0.1:8420)");
  app->add_option("--api-key-file", ctx.flags.api_key_file,
                  "A file holding the API key (else $KILN_API_KEY, else api_key in the config "
                  "file)");
  app->add_option("--config", ctx.flags.config_path,
                  "Config file (default ~/.config/kiln/config.toml)");
  app->add_flag("--json", ctx.json, "Print JSON for scripts instead of tables and text");
  app->require_subcommand(1);
  add_run_command(*app, ctx);
  add_repl_command(*app, ctx);
  add_sandbox_commands(*app, ctx);
  add_file_commands(*app, ctx);
  add_drive_commands(*app, ctx);
  add_info_commands(*app, ctx);
  add_completion_command(*app, ctx);
  add_man_command(*app, ctx);
  // Global options work after the subcommand too (kiln sandboxes ls --json).
  std::vector<CLI::App*> pending = app->get_subcommands({});
  while (!pending.empty()) {
    CLI::App* sub = pending.back();
    pending.pop_back();
    sub->fallthrough();
    // CLI11 lists only a command's own options; name the global ones too.
    const std::string own = sub->get_footer();
    sub->footer((own.empty() ? "" : own + "\n\n") +
                "Global options (before or after the command): --url URL, --api-key-file FILE, "
                "--config FILE, --json.\n");
    for (CLI::App* child : sub->get_subcommands({})) pending.push_back(child);
  }
  app->footer(
      "Config file (TOML): url = \"http://127.0.0.1:8420\", api_key = \"...\" (or api_key_file "
      "= \"path\").\n"
      "Exit status: 0 ok, 1 an API or usage error, 2 the code failed (run, repl, validate), "
      "130 interrupted, 141 the output's reader went away.\n"
      "Run 'kiln COMMAND --help' for a command's options.\n");
  return app;
}

namespace {

// "kiln sandboxes rm": the subcommands the parser had reached.
std::string command_path(const CLI::App& app) {
  std::string path = "kiln";
  const CLI::App* node = &app;
  while (node) {
    const auto parsed = node->get_subcommands();
    node = parsed.empty() ? nullptr : parsed.front();
    if (node) path += " " + node->get_name();
  }
  return path;
}

// The first word that is no option (nor an option's value) must name a
// command: CLI11 alone would say "A subcommand is required" for a typo.
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return "";
    if (arg.rfind("-", 0) == 0) {
      if (arg.find('=') == std::string::npos &&
          (arg == "--url" || arg == "--api-key-file" || arg == "--config"))
        ++i;
      continue;
    }
    for (const CLI::App* sub : const_cast<CLI::App&>(app).get_subcommands({}))  // NOLINT
      if (sub->check_name(arg)) return "";
    return arg;
  }
  return "";
}

}  // namespace

int run_app(int argc, char** argv) {
  Context ctx;
  auto app = make_app(ctx);
  if (auto word = unknown_command(*app, argc, argv); !word.empty())
    return report("unknown command '" + word + "' (see 'kiln --help')");
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app->exit(e);
  } catch (const CLI::CallForVersion&) {
    std::cout << "kiln " KILN_VERSION "\n";
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    const std::string path = command_path(*app);
    const std::string sub = path.size() > 5 ? path.substr(5) + ": " : "";
    report(sub + e.what() + " (see '" + path + " --help')");
    return kExitError;
  }
  if (!ctx.action) return report("no command given (see 'kiln --help')");
  return ctx.action();
}

}  // namespace kiln::cli
