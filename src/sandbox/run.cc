#include "sandbox/run.h"

#include <cerrno>

#include "sandbox/manager.h"
#include "sandbox/run_errors.h"

namespace kiln::sandbox {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Room for kiln-init's own notices and a bounded error beside the caps.
constexpr std::uint64_t kRunSlack = 1u << 20;

std::uint64_t budget_for(const RunRequest& r) {
  if (const auto* e = std::get_if<protocol::Execute>(&r)) {
    return run_budget(e->output_cap, e->result_cap);
  }
  return run_budget(std::get<protocol::RunCommand>(r).output_cap, 0);
}

std::uint64_t timeout_of(const RunRequest& r) {
  if (const auto* e = std::get_if<protocol::Execute>(&r)) return e->timeout_ms;
  return std::get<protocol::RunCommand>(r).timeout_ms;
}

protocol::Request as_request(RunRequest r) {
  if (auto* e = std::get_if<protocol::Execute>(&r)) return std::move(*e);
  return std::move(std::get<protocol::RunCommand>(r));
}

}  // namespace

std::uint64_t run_budget(std::uint64_t output_cap, std::uint64_t result_cap) {
  return 2 * output_cap + result_cap + kRunSlack;
}

Status status_from_reply(const protocol::Reply& reply) {
  using protocol::ReplyCode;
  switch (reply.code) {
    case ReplyCode::kOk:
      return Status::ok();
    case ReplyCode::kBadRequest:
      return Status::invalid(reply.message);
    case ReplyCode::kNotFound:
      return Status::not_found(reply.message);
    case ReplyCode::kConflict:
      return Status::conflict(reply.message);
    case ReplyCode::kTooLarge:
      return Status::too_large(reply.message);
    case ReplyCode::kNoSpace:
      return Status::no_space(reply.message);
    case ReplyCode::kInternal:
      break;
  }
  return Status::internal(reply.message);
}

namespace {

asio::awaitable<Result<protocol::Reply>> await_reply(std::shared_ptr<EventQueue> q) {
  if (!q) co_return Status::unavailable("the sandbox has no connection");
  while (auto e = co_await q->pop()) {
    if (auto* r = std::get_if<protocol::Reply>(&*e)) {
      if (!r->ok()) co_return status_from_reply(*r);
      co_return std::move(*r);
    }
  }
  co_return Status::unavailable("the sandbox ended while handling the request");
}

}  // namespace

// Not a coroutine on purpose: the request is moved into the connection
// before anything is suspended (GCC 12 mishandles variant parameters
// converted at a coroutine's call site).
asio::awaitable<Result<protocol::Reply>> call(Sandbox& sbx, protocol::Request request) {
  return await_reply(sbx.conn ? sbx.conn->open(std::move(request)) : nullptr);
}

Run::Run(SandboxManager& manager, std::shared_ptr<Sandbox> sbx, RunRequest request, bool metered)
    : manager_(manager),
      sbx_(std::move(sbx)),
      is_code_(std::holds_alternative<protocol::Execute>(request)),
      metered_(metered),
      timeout_ms_(timeout_of(request)),
      oom_before_(sbx_->oom_kills()),
      paused_before_(sbx_->paused_ms_now()),
      started_(Clock::now()) {
  const std::uint64_t budget = budget_for(request);
  queue_ = sbx_->conn->open(as_request(std::move(request)), budget);
}

void Run::interrupt() {
  if (!queue_->closed()) sbx_->conn->post(protocol::Interrupt{queue_->rid()});
}

std::function<void()> Run::interrupter() const {
  std::weak_ptr<Connection> conn = sbx_->conn;
  return [conn, rid = queue_->rid()] {
    if (auto c = conn.lock()) c->post(protocol::Interrupt{rid});
  };
}

asio::awaitable<Result<RunOutcome>> Run::finish() {
  static const RunSink kNoSink;
  return finish(kNoSink);
}

asio::awaitable<Result<RunOutcome>> Run::finish(const RunSink& sink) {
  RunOutcome out;
  std::optional<protocol::End> end;
  std::optional<protocol::ErrorEvent> runner_error;
  while (auto event = co_await queue_->pop()) {
    if (auto* o = std::get_if<protocol::Output>(&*event)) {
      std::string& text = o->stream == protocol::Stream::kStdout
                              ? (o->notice ? out.stdout_notice : out.stdout_text)
                              : (o->notice ? out.stderr_notice : out.stderr_text);
      text += o->text;
      if (sink.on_output) co_await sink.on_output(*o);
    } else if (auto* r = std::get_if<protocol::ResultEvent>(&*event)) {
      out.results.push_back(std::move(r->bundle));
      if (sink.on_result) co_await sink.on_result(out.results.back());
    } else if (auto* e = std::get_if<protocol::ErrorEvent>(&*event)) {
      runner_error = std::move(*e);
    } else if (auto* reply = std::get_if<protocol::Reply>(&*event)) {
      // Refused before it ran: busy context, unknown context, bad cwd...
      co_return status_from_reply(*reply);
    } else if (auto* e = std::get_if<protocol::End>(&*event)) {
      end = *e;
    }
  }
  out.duration_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count());
  if (metered_) {
    co_await manager_.meter_run(*sbx_, out.duration_ms, sbx_->paused_ms_now() - paused_before_);
  }

  if (queue_->dropped_bytes() > 0) {
    protocol::Output notice{protocol::Stream::kStderr,
                            "[kiln: this run sent more than its " +
                                std::to_string(queue_->budget()) + "-byte budget; " +
                                std::to_string(queue_->dropped_bytes()) + " bytes were dropped]\n",
                            true};
    out.stderr_notice += notice.text;
    if (sink.on_output) co_await sink.on_output(notice);
  }
  if (!end) {
    out.sandbox_ended = true;
    out.error = sandbox_ended_error();
    co_return out;
  }
  out.timed_out = end->timed_out;
  out.exit_code = end->exit_code;
  out.execution_count = end->execution_count.value_or(0);
  if (runner_error) out.error = error_from_runner(*runner_error, end->timed_out, timeout_ms_);
  if (is_code_) {
    json died = error_for_run_end(
        {*end, sbx_->oom_kills() > oom_before_, timeout_ms_, sbx_->limits.memory_mb});
    if (!died.is_null()) out.error = std::move(died);
  }
  co_return out;
}

asio::awaitable<Result<RunOutcome>> run_command(SandboxManager& m, std::shared_ptr<Sandbox> sbx,
                                                std::string cmd, std::string stdin_data,
                                                std::uint64_t timeout_ms, std::string cwd,
                                                bool metered) {
  protocol::RunCommand c;
  c.cmd = std::move(cmd);
  c.cwd = std::move(cwd);
  c.env = sbx->env;
  c.timeout_ms = timeout_ms;
  c.output_cap = 8u << 20;
  c.stdin_data = std::move(stdin_data);
  Run run(m, std::move(sbx), std::move(c), metered);
  co_return co_await run.finish();
}

asio::awaitable<Result<RunOutcome>> run_code(SandboxManager& m, std::shared_ptr<Sandbox> sbx,
                                             std::string ctx_id, std::string code,
                                             std::uint64_t timeout_ms, std::uint64_t output_cap) {
  protocol::Execute e;
  e.ctx = std::move(ctx_id);
  e.code = std::move(code);
  e.timeout_ms = timeout_ms;
  e.output_cap = output_cap;
  e.result_cap = m.config().result_cap_bytes;
  Run run(m, std::move(sbx), std::move(e));
  co_return co_await run.finish();
}

}  // namespace kiln::sandbox
