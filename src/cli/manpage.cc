#include "cli/manpage.h"

#include <cctype>

#include "cli/commands.h"

namespace kiln::cli {
namespace {

// Text safe in roff: backslashes doubled, leading dots and quotes escaped.
std::string roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

std::string option_names(const CLI::Option& opt) {
  std::string names;
  for (const auto& s : opt.get_snames()) names += (names.empty() ? "-" : ", -") + s;
  for (const auto& l : opt.get_lnames()) names += (names.empty() ? "--" : ", --") + l;
  if (const std::string type = opt.get_type_name(); !type.empty() && opt.get_type_size() != 0)
    names += " " + type;
  return names;
}

void command_section(const CLI::App& app, const std::string& path, std::string& out) {
  const auto subs = const_cast<CLI::App&>(app).get_subcommands({});  // NOLINT
  if (!path.empty()) {
    std::string synopsis = path;
    for (const CLI::Option* opt : app.get_options()) {
      if (!opt->get_positional()) continue;
      std::string name = opt->get_name();
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      synopsis += opt->get_required() ? " " + name : " [" + name + "]";
    }
    if (!subs.empty()) synopsis += " COMMAND";
    out += ".SS \"" + roff(synopsis) + "\"\n" + roff(app.get_description()) + "\n";
    for (const CLI::Option* opt : app.get_options()) {
      if (opt->get_positional() || opt->get_name() == "--help") continue;
      out += ".TP\n.B " + roff(option_names(*opt)) + "\n" + roff(opt->get_description()) + "\n";
    }
    std::string footer = app.get_footer();
    if (auto pos = footer.find("Global options"); pos != std::string::npos)
      footer = footer.substr(0, pos);
    while (!footer.empty() && footer.back() == '\n') footer.pop_back();
    if (!footer.empty()) out += ".PP\n.nf\n" + roff(footer) + "\n.fi\n";
  }
  for (const CLI::App* sub : subs)
    command_section(*sub, (path.empty() ? "kiln" : path) + " " + sub->get_name(), out);
}

}  // namespace

std::string man_page(const CLI::App& app) {
  std::string out = ".TH KILN 1 \"\" \"kiln " KILN_VERSION "\" \"User Commands\"\n";
  out += ".SH NAME\nkiln \\- " + roff(app.get_description().substr(6)) + "\n";
  out += ".SH SYNOPSIS\n.B kiln\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR ...\n";
  out +=
      ".SH DESCRIPTION\nkiln talks to kilnd over its HTTP API: it runs files and interactive "
      "sessions in sandboxes and manages sandboxes, their files, Drive, skills and usage. "
      "Output is human tables and text by default, JSON with \\fB\\-\\-json\\fR.\n";
  out += ".SH OPTIONS\nThese go before or after the command.\n";
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_name() == "--help") continue;
    out += ".TP\n.B " + roff(option_names(*opt)) + "\n" + roff(opt->get_description()) + "\n";
  }
  out += ".SH COMMANDS\n";
  command_section(app, "", out);
  out +=
      ".SH ENVIRONMENT\n.TP\n.B KILN_URL\nkilnd's URL when \\fB\\-\\-url\\fR is not given.\n"
      ".TP\n.B KILN_API_KEY\nThe API key when \\fB\\-\\-api\\-key\\-file\\fR is not given.\n"
      ".TP\n.B KILN_PROGRESS_DELAY_MS\nHow long an upload, download or run lasts before its "
      "progress display appears on a terminal (default 1000).\n";
  out +=
      ".SH FILES\n.TP\n.I ~/.config/kiln/config.toml\nurl, api_key or api_key_file "
      "(TOML; \\fI$XDG_CONFIG_HOME/kiln/config.toml\\fR when that is set).\n"
      ".TP\n.I ~/.local/state/kiln/history\nThe REPL's history "
      "(\\fI$XDG_STATE_HOME/kiln/history\\fR when that is set).\n";
  out +=
      ".SH EXIT STATUS\n0 success; 1 an API, connection or usage error; 2 the code failed "
      "(\\fBrun\\fR and piped \\fBrepl\\fR: it raised or exited non-zero; \\fBvalidate\\fR: "
      "syntax errors); 130 interrupted by Ctrl-C; 141 \\fBrun\\fR stopped because its "
      "output's reader went away.\n";
  return out;
}

void add_man_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("man", "Print kiln's man page (roff): kiln man | man -l -");
  const CLI::App* root = &app;
  cmd->callback([&ctx, root] {
    ctx.action = [root] {
      std::cout << man_page(*root);
      return kExitOk;
    };
  });
}

}  // namespace kiln::cli
