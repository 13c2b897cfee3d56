#include "cli/cell_input.h"

#include <cctype>
#include <string_view>
#include <vector>

namespace kiln::cli {
namespace {

struct Scan {
  int depth = 0;              // open brackets
  bool open_string = false;   // inside a string literal at the end
  bool continued = false;     // the last line ends in a backslash
  bool python_block = false;  // some line opened a Python block
  int bash_nesting = 0;       // if/fi, case/esac, do/done balance
  std::string last_line;      // the last line, comments removed, trimmed
};

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

int bash_word_weight(const std::string& w) {
  if (w == "if" || w == "case" || w == "do") return 1;
  if (w == "fi" || w == "esac" || w == "done") return -1;
  return 0;
}

Scan scan(const std::string& code, const std::string& language) {
  const bool python = language == "python";
  const bool bash = language == "bash";
  const bool js = language == "javascript" || language == "typescript";
  Scan st;
  std::string quote;           // the open string's delimiter: ' " ` ''' """
  bool block_comment = false;  // JS /* ... */
  std::string line_code;       // the current line outside strings and comments
  std::string word;            // the current Bash word
  auto end_word = [&] {
    if (bash && !word.empty()) st.bash_nesting += bash_word_weight(word);
    word.clear();
  };
  auto end_line = [&] {
    end_word();
    std::string t = trim(line_code);
    if (python && quote.empty() && st.depth == 0 && !t.empty() &&
        (t.back() == ':' || t.front() == '@'))
      st.python_block = true;
    st.last_line = t;
    line_code.clear();
  };
  for (std::size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    const std::string_view rest(code.data() + i, code.size() - i);
    if (block_comment) {
      if (rest.substr(0, 2) == "*/") {
        block_comment = false;
        ++i;
      }
      if (c == '\n') end_line();
      continue;
    }
    if (!quote.empty()) {
      if (c == '\\' && !(bash && quote == "'")) {
        ++i;  // an escaped character, also an escaped newline
        continue;
      }
      if (rest.substr(0, quote.size()) == quote) {
        i += quote.size() - 1;
        quote.clear();
        line_code += 'S';
        continue;
      }
      if (c == '\n') {
        // Python's and JS's one-quote strings end at a newline (a syntax
        // error kilnd will report); the others go on.
        if ((python || js) && quote.size() == 1 && quote != "`") quote.clear();
        end_line();
      }
      continue;
    }
    if (c == '\n') {
      end_line();
      continue;
    }
    const bool word_start = line_code.empty() ||
                            std::isspace(static_cast<unsigned char>(line_code.back())) ||
                            line_code.back() == ';';
    if ((python && c == '#') || (bash && c == '#' && word_start)) {
      while (i + 1 < code.size() && code[i + 1] != '\n') ++i;
      continue;
    }
    if (js && rest.substr(0, 2) == "//") {
      while (i + 1 < code.size() && code[i + 1] != '\n') ++i;
      continue;
    }
    if (js && rest.substr(0, 2) == "/*") {
      block_comment = true;
      ++i;
      continue;
    }
    if (c == '\\') {
      if (i + 1 == code.size()) {
        st.continued = true;
      } else if (code[i + 1] == '\n') {
        st.continued = i + 2 == code.size();
        ++i;
      } else {
        ++i;
      }
      continue;
    }
    if (c == '"' || c == '\'' || (js && c == '`')) {
      end_word();
      quote = std::string(1, c);
      if (python && rest.substr(0, 3) == std::string(3, c)) {
        quote = std::string(3, c);
        i += 2;
      }
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++st.depth;
    if ((c == ')' || c == ']' || c == '}') && st.depth > 0) --st.depth;
    if (bash) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
        word += c;
      } else {
        end_word();
      }
    }
    line_code += c;
  }
  end_line();
  st.open_string = !quote.empty() || block_comment;
  return st;
}

}  // namespace

bool cell_complete(const std::string& code, const std::string& language) {
  Scan st = scan(code, language);
  if (st.open_string || st.depth > 0 || st.continued) return false;
  const bool blank_last = st.last_line.empty();
  if (st.python_block) return blank_last;
  if (st.bash_nesting > 0) return false;
  return true;
}

}  // namespace kiln::cli
