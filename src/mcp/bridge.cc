#include "mcp/bridge.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "mcp/jsonrpc.h"
#include "mcp/sse_reader.h"

namespace kiln::mcp {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using nlohmann::json;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kUsage =
    "Usage: kilnd mcp --url http://HOST:PORT [--key-file FILE]\n"
    "\n"
    "Bridges MCP over stdio (one JSON-RPC message per line) to kilnd's /mcp endpoint.\n"
    "The API key is read from FILE, else from the KILN_API_KEY environment variable;\n"
    "it is never taken from the command line.\n";

std::string trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

}  // namespace

Result<BridgeOptions> parse_bridge_args(int argc, const char* const* argv, const char* env_key) {
  BridgeOptions o;
  std::string url, key_file;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const std::string& name) -> Result<std::string> {
      if (auto eq = a.find('='); eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) return Status::invalid(name + " needs a value");
      return std::string(argv[++i]);
    };
    const std::string name = a.substr(0, a.find('='));
    if (a == "--help" || a == "-h") return Status::invalid(std::string("exit:0\n") + kUsage);
    if (name == "--url") {
      auto v = value(name);
      if (!v) return v.status();
      url = *v;
    } else if (name == "--key-file") {
      auto v = value(name);
      if (!v) return v.status();
      key_file = *v;
    } else if (name == "--key" || name == "--api-key") {
      return Status::invalid(
          "the API key is not taken on the command line (other users can read it there): use "
          "--key-file FILE or the KILN_API_KEY environment variable");
    } else {
      return Status::invalid("unknown argument '" + a + "'\n" + kUsage);
    }
  }
  if (url.empty()) return Status::invalid(std::string("--url is required\n") + kUsage);
  if (url.rfind("http://", 0) != 0)
    return Status::invalid(
        "--url must be http://HOST:PORT (kilnd serves plain HTTP; put a TLS "
        "proxy in front for remote use): " +
        url);
  std::string rest = url.substr(7);
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    o.target = rest.substr(slash);
    rest.resize(slash);
    if (o.target == "/") o.target = "/mcp";
  }
  if (rest.empty()) return Status::invalid("--url has no host: " + url);
  if (rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return Status::invalid("--url: bad IPv6 address: " + url);
    o.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') o.port = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    o.host = rest.substr(0, colon);
    o.port = rest.substr(colon + 1);
  } else {
    o.host = rest;
  }
  if (o.host.empty() || o.port.empty()) return Status::invalid("--url: bad host or port: " + url);
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) return Status::invalid("cannot read --key-file " + key_file);
    std::stringstream ss;
    ss << in.rdbuf();
    o.key = trim(ss.str());
    if (o.key.empty()) return Status::invalid("--key-file " + key_file + " is empty");
  } else if (env_key != nullptr) {
    o.key = trim(env_key);
  }
  return o;
}

namespace {

class Bridge {
 public:
  explicit Bridge(BridgeOptions o) : o_(std::move(o)) {}

  // Writes one message to stdout as a line.
  void emit(const json& message) {
    const std::string line = dump_message(message) + "\n";
    std::lock_guard lock(out_mu_);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }

  void log(const std::string& what) {
    std::lock_guard lock(out_mu_);
    std::fprintf(stderr, "kilnd mcp: %s\n", what.c_str());
  }

  // Posts one message and relays what comes back. `id`: the request's id
  // (nullopt for notifications and responses).
  void relay(const std::string& body, const std::optional<json>& id, bool is_initialize) {
    try {
      post(body, id, is_initialize);
    } catch (const std::exception& e) {
      fail(id, 0,
           std::string("cannot reach kilnd at ") + o_.host + ":" + o_.port + ": " + e.what());
    }
  }

  void fail(const std::optional<json>& id, int status, const std::string& message,
            int code = -32000) {
    log(message);
    if (!id) return;
    json data = {{"http_status", status}};
    emit(make_error(id, code, message, data));
  }

  void end_session() {
    std::string sid;
    {
      std::lock_guard lock(state_mu_);
      sid = session_id_;
    }
    if (sid.empty()) return;
    try {
      asio::io_context ioc;
      beast::tcp_stream stream(ioc);
      connect(ioc, stream);
      http::request<http::string_body> req{http::verb::delete_, o_.target, 11};
      headers(req);
      http::write(stream, req);
      beast::flat_buffer buf;
      http::response<http::string_body> res;
      http::read(stream, buf, res);
    } catch (const std::exception& e) {
      log(std::string("ending the session: ") + e.what());
    }
  }

 private:
  void connect(asio::io_context& ioc, beast::tcp_stream& stream) {
    tcp::resolver resolver(ioc);
    stream.connect(resolver.resolve(o_.host, o_.port));
    stream.socket().set_option(tcp::no_delay(true));
  }

  template <class Req>
  void headers(Req& req) {
    req.set(http::field::host, o_.host.find(':') != std::string::npos
                                   ? "[" + o_.host + "]:" + o_.port
                                   : o_.host + ":" + o_.port);
    req.set(http::field::user_agent, "kilnd-mcp-bridge/" KILN_VERSION);
    if (!o_.key.empty()) req.set(http::field::authorization, "Bearer " + o_.key);
    std::lock_guard lock(state_mu_);
    if (!session_id_.empty()) req.set("Mcp-Session-Id", session_id_);
    if (!version_.empty()) req.set("MCP-Protocol-Version", version_);
  }

  void post(const std::string& body, const std::optional<json>& id, bool is_initialize) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    connect(ioc, stream);
    http::request<http::string_body> req{http::verb::post, o_.target, 11};
    headers(req);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json, text/event-stream");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);

    beast::flat_buffer buf;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read_header(stream, buf, parser);
    const auto& res = parser.get();
    const int status = static_cast<int>(res.result_int());
    const std::string type(res[http::field::content_type]);
    if (is_initialize) {
      std::lock_guard lock(state_mu_);
      session_id_ = std::string(res["Mcp-Session-Id"]);
    }
    const bool sse = type.find("text/event-stream") != std::string::npos;
    SseReader sse_reader;
    std::string whole;
    std::array<char, 16384> chunk{};
    bool too_big = false;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      boost::system::error_code ec;
      // read_some: hand each SSE event on as soon as it arrives (a progress
      // notification must not wait for the result).
      http::read_some(stream, buf, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) throw boost::system::system_error(ec);
      const std::size_t n = chunk.size() - parser.get().body().size;
      if (sse) {
        for (auto& data : sse_reader.feed(std::string_view(chunk.data(), n)))
          deliver(data, id, is_initialize);
      } else if (whole.size() + n > kMaxLineBytes) {
        too_big = true;
      } else {
        whole.append(chunk.data(), n);
      }
    }
    if (status == 202) return;
    if (status >= 300) {
      std::string message = "kilnd answered HTTP " + std::to_string(status);
      int code = -32000;
      auto j = parse_bounded_json(whole, kMessageLimits);
      if (j && j->is_object() && j->contains("error") && (*j)["error"].is_object()) {
        const json& err = (*j)["error"];
        message += ": " + err.value("message", std::string());
        if (err.contains("code") && err["code"].is_number_integer()) code = err["code"];
      }
      return fail(id, status, message, code);
    }
    if (too_big) return fail(id, status, "kilnd's answer is over the bridge's size limit");
    if (!sse && !whole.empty()) deliver(whole, id, is_initialize);
  }

  // One message from kilnd, to stdout.
  void deliver(const std::string& data, const std::optional<json>& id, bool is_initialize) {
    auto j = parse_bounded_json(data, kMessageLimits);
    if (!j || !j->is_object()) return fail(id, 200, "kilnd sent a message that is not JSON");
    if (is_initialize && j->contains("result") && (*j)["result"].is_object()) {
      const json& r = (*j)["result"];
      if (r.contains("protocolVersion") && r["protocolVersion"].is_string()) {
        std::lock_guard lock(state_mu_);
        version_ = r["protocolVersion"];
      }
    }
    emit(*j);
  }

  BridgeOptions o_;
  std::mutex out_mu_;
  std::mutex state_mu_;
  std::string session_id_;
  std::string version_;
};

// Reads stdin line by line, each at most kMaxLineBytes; calls on_line for
// each (without its newline) and on_overlong for each refused one.
template <class Line, class Overlong>
void read_lines(Line on_line, Overlong on_overlong) {
  std::string line;
  bool skipping = false;
  std::array<char, 65536> buf{};
  while (true) {
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::size_t start = 0;
    const auto len = static_cast<std::size_t>(n);
    while (start < len) {
      const void* nl = std::memchr(buf.data() + start, '\n', len - start);
      const std::size_t end =
          nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data()) : len;
      if (!skipping) {
        if (line.size() + (end - start) > kMaxLineBytes) {
          skipping = true;
          line.clear();
        } else {
          line.append(buf.data() + start, end - start);
        }
      }
      if (!nl) break;
      if (skipping)
        on_overlong();
      else
        on_line(line);
      line.clear();
      skipping = false;
      start = end + 1;
    }
  }
  if (!skipping && !line.empty()) on_line(line);
}

}  // namespace

int run_bridge(int argc, char** argv) {
  auto opts = parse_bridge_args(argc, argv, std::getenv("KILN_API_KEY"));
  if (!opts) {
    const std::string& m = opts.status().message();
    if (m.rfind("exit:0\n", 0) == 0) {
      std::fputs(m.c_str() + 7, stdout);
      return 0;
    }
    std::fprintf(stderr, "kilnd mcp: %s\n", m.c_str());
    return 2;
  }
  Bridge bridge(std::move(*opts));
  std::atomic<int> running{0};
  std::mutex mu;
  std::condition_variable done;
  auto spawn = [&](std::string body, std::optional<json> id) {
    ++running;
    std::thread([&, body = std::move(body), id = std::move(id)] {
      bridge.relay(body, id, false);
      std::lock_guard lock(mu);
      --running;
      done.notify_all();
    }).detach();
  };
  read_lines(
      [&](std::string line) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (trim(line).empty()) return;
        auto parsed = parse_message(line);
        if (!parsed.message) {
          bridge.emit(make_error(parsed.failure.id, parsed.failure.code, parsed.failure.message));
          return;
        }
        const Message& m = *parsed.message;
        std::optional<json> id;
        if (m.kind == MessageKind::kRequest) id = m.id;
        const std::string& body = line;
        // initialize first, alone: every later message needs its session.
        if (m.kind == MessageKind::kRequest && m.method == "initialize")
          bridge.relay(body, id, true);
        else
          spawn(body, id);
      },
      [&] {
        bridge.emit(make_error(
            std::nullopt, kInvalidRequest,
            "message refused: a line is longer than " + std::to_string(kMaxLineBytes) + " bytes"));
      });
  // stdin closed: the client is done. End the session (its sandbox goes
  // with it) within the ~2 s a client waits before SIGTERM.
  std::thread([&] {
    bridge.end_session();
    std::lock_guard lock(mu);
    running = -1000;
    done.notify_all();
  }).detach();
  {
    std::unique_lock lock(mu);
    done.wait_for(lock, std::chrono::milliseconds(1500), [&] { return running.load() < 0; });
  }
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace kiln::mcp
