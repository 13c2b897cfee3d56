#include "sandbox/runs.h"

#include <chrono>

namespace kiln::sandbox {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

struct Collected {
  std::string out, err;
  json results = json::array();
  json error;
  std::optional<protocol::Frame> end;
  std::optional<protocol::Frame> refused;
};

asio::awaitable<Collected> collect(std::shared_ptr<FrameQueue> q) {
  Collected c;
  while (auto f = co_await q->pop()) {
    const std::string op = f->msg.value("op", "");
    if (op == "stdout")
      c.out += f->msg.value("text", "");
    else if (op == "stderr")
      c.err += f->msg.value("text", "");
    else if (op == "result")
      c.results.push_back(f->msg.value("result", json::object()));
    else if (op == "error")
      c.error = f->msg.value("error", json::object());
    else if (op == "reply")
      c.refused = std::move(*f);
    else if (op == "end")
      c.end = std::move(*f);
  }
  co_return c;
}

}  // namespace

asio::awaitable<Result<CommandOutcome>> run_command(std::shared_ptr<Sandbox> sbx, std::string cmd,
                                                    std::string stdin_data,
                                                    std::uint64_t timeout_ms, std::string cwd,
                                                    bool metered) {
  const auto t0 = std::chrono::steady_clock::now();
  json msg = {{"op", "cmd"},           {"cmd", cmd},          {"cwd", cwd},
              {"env", sbx->env},       {"background", false}, {"timeout_ms", timeout_ms},
              {"output_cap", 8u << 20}};
  auto q = sbx->conn->open(msg, std::move(stdin_data));
  Collected c = co_await collect(q);
  if (metered) {
    sbx->active_ms += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    ++sbx->executions;
  }
  if (c.refused) co_return Status::error(c.refused->msg.value("message", "command refused"), EIO);
  if (!c.end) co_return Status::error("the sandbox ended during the command", EIO);
  CommandOutcome out;
  out.exit_code = c.end->msg.value("exit_code", -1);
  out.timed_out = c.end->msg.value("timed_out", false);
  out.stdout_text = std::move(c.out);
  out.stderr_text = std::move(c.err);
  co_return out;
}

asio::awaitable<Result<CodeOutcome>> run_code(std::shared_ptr<Sandbox> sbx, std::string ctx_id,
                                              std::string code, std::uint64_t timeout_ms,
                                              std::uint64_t output_cap) {
  const auto t0 = std::chrono::steady_clock::now();
  json msg = {{"op", "exec"},
              {"ctx", ctx_id},
              {"code", code},
              {"env", json::object()},
              {"timeout_ms", timeout_ms},
              {"output_cap", output_cap}};
  auto q = sbx->conn->open(msg);
  Collected c = co_await collect(q);
  sbx->active_ms += static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  ++sbx->executions;
  if (c.refused) co_return Status::error(c.refused->msg.value("message", "execution refused"), EIO);
  if (!c.end) co_return Status::error("the sandbox ended during the execution", EIO);
  CodeOutcome out;
  out.results = std::move(c.results);
  out.stdout_text = std::move(c.out);
  out.stderr_text = std::move(c.err);
  out.error = std::move(c.error);
  if (out.error.is_null() && c.end->msg.contains("runner_exit")) {
    out.error = {{"name", "ContextDiedError"},
                 {"value", "the interpreter process exited during the run"},
                 {"traceback", ""}};
  }
  co_return out;
}

}  // namespace kiln::sandbox
