#include "cli/completion.h"

#include <map>
#include <vector>

#include "cli/commands.h"

namespace kiln::cli {
namespace {

// The values some options take, offered after the option.
const std::map<std::string, std::string>& option_values() {
  static const std::map<std::string, std::string> values = {
      {"--lang", "python javascript typescript bash"}, {"--scope", "temporary session persistent"}};
  return values;
}

struct Node {
  std::string path;  // "", "/sandboxes", "/sandboxes/ls"
  std::vector<std::pair<std::string, std::string>> subcommands;  // name, description
  std::vector<std::pair<std::string, std::string>> options;      // flag, description
  std::vector<std::string> positional_values;                    // fixed words a positional takes
};

void options_of(const CLI::App& app, std::vector<std::pair<std::string, std::string>>& out) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_positional()) continue;
    for (const auto& l : opt->get_lnames()) out.emplace_back("--" + l, opt->get_description());
    for (const auto& s : opt->get_snames()) out.emplace_back("-" + s, opt->get_description());
  }
}

void collect(const CLI::App& app, const std::string& path, const CLI::App& root,
             std::vector<Node>& out) {
  Node node;
  node.path = path;
  const auto subs = const_cast<CLI::App&>(app).get_subcommands({});  // NOLINT
  for (const CLI::App* sub : subs) {
    node.subcommands.emplace_back(sub->get_name(), sub->get_description());
    for (const auto& alias : sub->get_aliases())
      node.subcommands.emplace_back(alias, sub->get_description());
  }
  options_of(app, node.options);
  if (&app != &root) options_of(root, node.options);
  if (path == "/completion") node.positional_values = {"bash", "zsh"};
  out.push_back(node);
  for (const CLI::App* sub : subs) {
    collect(*sub, path + "/" + sub->get_name(), root, out);
    for (const auto& alias : sub->get_aliases()) collect(*sub, path + "/" + alias, root, out);
  }
}

std::vector<Node> tree(const CLI::App& app) {
  std::vector<Node> nodes;
  collect(app, "", app, nodes);
  return nodes;
}

std::string words(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out;
  for (const auto& [name, desc] : items) out += (out.empty() ? "" : " ") + name;
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : " ") + s;
  return out;
}

// A zsh _describe item: 'name:description' with ' and : escaped.
std::string zsh_item(const std::string& name, const std::string& desc) {
  std::string d;
  for (char c : desc) {
    if (c == '\'') {
      d += "'\\''";
    } else if (c == ':') {
      d += "\\:";
    } else if (c == '\n') {
      d += ' ';
    } else {
      d += c;
    }
  }
  return "'" + name + ":" + d + "'";
}

}  // namespace

std::string bash_completion(const CLI::App& app) {
  const auto nodes = tree(app);
  std::string known;
  for (const auto& n : nodes) {
    if (!n.path.empty()) known += (known.empty() ? "" : "|") + n.path;
  }
  std::string s =
      "# bash completion for kiln; load with: source <(kiln completion bash)\n"
      "_kiln() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  local node=\"\" w i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=\"${COMP_WORDS[i]}\"\n"
      "    case \"$node/$w\" in\n"
      "      " +
      known +
      ") node=\"$node/$w\" ;;\n"
      "    esac\n"
      "  done\n"
      "  case \"$prev\" in\n";
  for (const auto& [opt, values] : option_values()) {
    s += "    " + opt + (opt == "--lang" ? "|-l" : "") + ") COMPREPLY=($(compgen -W \"" + values +
         "\" -- \"$cur\")); return ;;\n";
  }
  s += "  esac\n"
       "  local subs=\"\" opts=\"\"\n"
       "  case \"$node\" in\n";
  for (const auto& n : nodes) {
    std::vector<std::string> sub_words;
    for (const auto& [name, d] : n.subcommands) sub_words.push_back(name);
    for (const auto& v : n.positional_values) sub_words.push_back(v);
    s += "    \"" + n.path + "\") subs=\"" + join(sub_words) + "\"; opts=\"" + words(n.options) +
         "\" ;;\n";
  }
  s += "  esac\n"
       "  if [[ \"$cur\" == -* ]]; then\n"
       "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
       "  elif [[ -n \"$subs\" ]]; then\n"
       "    COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
       "  fi\n"
       "}\n"
       "complete -o default -F _kiln kiln\n";
  return s;
}

std::string zsh_completion(const CLI::App& app) {
  const auto nodes = tree(app);
  std::string known;
  for (const auto& n : nodes) {
    if (!n.path.empty()) known += (known.empty() ? "" : "|") + n.path;
  }
  std::string s =
      "#compdef kiln\n"
      "# zsh completion for kiln; put it in $fpath as _kiln, or: source <(kiln completion zsh)\n"
      "_kiln() {\n"
      "  local node=\"\" w i\n"
      "  for ((i = 2; i < CURRENT; i++)); do\n"
      "    w=${words[i]}\n"
      "    case \"$node/$w\" in\n"
      "      (" +
      known +
      ") node=\"$node/$w\" ;;\n"
      "    esac\n"
      "  done\n"
      "  case \"${words[CURRENT-1]}\" in\n";
  for (const auto& [opt, values] : option_values()) {
    s +=
        "    (" + opt + (opt == "--lang" ? "|-l" : "") + ") compadd -- " + values + "; return ;;\n";
  }
  s += "  esac\n"
       "  local -a subs opts\n"
       "  case \"$node\" in\n";
  for (const auto& n : nodes) {
    std::string subs, opts;
    // Appended piece by piece: `" " + f()` trips GCC 12's -Wrestrict
    // false positive (GCC bug 105651).
    auto add = [](std::string& list, const std::string& item) {
      list += ' ';
      list += item;
    };
    for (const auto& [name, d] : n.subcommands) add(subs, zsh_item(name, d));
    for (const auto& v : n.positional_values) add(subs, zsh_item(v, v + " completion script"));
    for (const auto& [name, d] : n.options) add(opts, zsh_item(name, d));
    s += "    (\"" + n.path + "\") subs=(" + subs + " ); opts=(" + opts + " ) ;;\n";
  }
  s +=
      "  esac\n"
      "  if [[ ${words[CURRENT]} == -* ]]; then\n"
      "    _describe -t options 'option' opts\n"
      "  elif (( ${#subs} )); then\n"
      "    _describe -t commands 'command' subs\n"
      "  else\n"
      "    _files\n"
      "  fi\n"
      "}\n"
      "if [[ \"${funcstack[1]}\" == \"_kiln\" ]]; then _kiln \"$@\"; else compdef _kiln kiln; fi\n";
  return s;
}

void add_completion_command(CLI::App& app, Context& ctx) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion", "Print the shell completion script (bash or zsh)");
  cmd->add_option("shell", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  cmd->footer(
      "bash: source <(kiln completion bash)   (or save it in "
      "/etc/bash_completion.d/kiln)\n"
      "zsh:  source <(kiln completion zsh)    (after compinit; or save it as _kiln in $fpath)");
  const CLI::App* root = &app;
  cmd->callback([&ctx, shell, root] {
    ctx.action = [shell, root] {
      std::cout << (*shell == "bash" ? bash_completion(*root) : zsh_completion(*root));
      return kExitOk;
    };
  });
}

}  // namespace kiln::cli
