// Route handlers, one file per resource. Each throws ApiError for a clean
// error reply.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/http_context.h"
#include "api/services.h"
#include "sandbox/manager.h"

namespace kiln::api {

using Manager = sandbox::SandboxManager;

boost::asio::awaitable<void> dispatch(HttpContext& ctx, Services& s);

boost::asio::awaitable<void> handle_sandboxes(HttpContext& ctx, Manager& m);
boost::asio::awaitable<void> handle_contexts(HttpContext& ctx, Manager& m,
                                             std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> handle_execute(HttpContext& ctx, Manager& m,
                                            std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> handle_commands(HttpContext& ctx, Manager& m,
                                             std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> handle_files(HttpContext& ctx, Manager& m,
                                          std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> handle_network(HttpContext& ctx, Manager& m,
                                            std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> handle_ops(HttpContext& ctx, Manager& m);
boost::asio::awaitable<void> handle_checks(HttpContext& ctx, Manager& m);
boost::asio::awaitable<void> handle_drive(HttpContext& ctx, Services& s);
boost::asio::awaitable<void> handle_transfer(HttpContext& ctx, Services& s,
                                             std::shared_ptr<sandbox::Sandbox> sbx);
boost::asio::awaitable<void> handle_skills(HttpContext& ctx, Services& s);
boost::asio::awaitable<void> handle_usage(HttpContext& ctx, Services& s);
boost::asio::awaitable<void> handle_actions(HttpContext& ctx, Services& s);
boost::asio::awaitable<void> handle_signed_download(HttpContext& ctx, Services& s);
// /mcp: the MCP Streamable HTTP transport (checks Origin/Host, then auth).
boost::asio::awaitable<void> handle_mcp(HttpContext& ctx, Services& s);

// Shared helpers.
std::shared_ptr<sandbox::Sandbox> require_sandbox(Manager& m, const HttpContext& ctx,
                                                  const std::string& id);
// Maps a failed Status to its ApiError by its kind (the one place).
ApiError api_error_from(const Status& s);

}  // namespace kiln::api
