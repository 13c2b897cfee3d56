// `kilnd mcp --url http://HOST:PORT [--key-file F]`: the stdio transport
// of MCP, as a bridge to kilnd's Streamable HTTP endpoint. An MCP client
// launches it as a subprocess and writes one JSON-RPC message per line to
// its stdin; each is POSTed to <url>/mcp (concurrently, so a
// notifications/cancelled gets through while a long tools/call runs), and
// every message of each answer (a JSON body or an SSE stream) is written to
// stdout as one line. Nothing else goes to stdout; logs go to stderr.
//
// The API key comes from --key-file or KILN_API_KEY, never from argv
// (other users can read a process's command line). Lines longer than
// kMaxLineBytes are refused with a JSON-RPC error and skipped.
//
// Thread-safety: a thread per message in flight; stdout writes are
// serialized.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace kiln::mcp {

inline constexpr std::size_t kMaxLineBytes = 16u << 20;

struct BridgeOptions {
  std::string host;
  std::string port = "80";
  std::string target = "/mcp";  // the URL's path, /mcp when it has none
  std::string key;
};

// Parses the arguments after "mcp" (and reads the key file / environment).
// An error whose message starts "exit:0\n" is --help.
Result<BridgeOptions> parse_bridge_args(int argc, const char* const* argv, const char* env_key);

// argv[0] is "mcp". Returns the process's exit code.
int run_bridge(int argc, char** argv);

}  // namespace kiln::mcp
