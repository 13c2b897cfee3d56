// The web console: static files (index.html and Vite's hashed assets) that
// `make build` puts in build/console, next to kilnd. Served at / and
// /console/... without a key; the console asks for one and sends it on
// every API call it makes.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/http_context.h"

namespace kiln::api {

// GET or HEAD of "/", "/console" or "/console/<file>".
boost::asio::awaitable<void> handle_console(HttpContext& ctx);

// The folder the console's files are served from: the first of
// <kilnd's folder>/console and <kilnd's folder>/../share/kiln/console that
// holds an index.html; nullopt when the console was not built.
std::optional<std::string> find_console_dir();

// The file a console request names, relative to the console folder:
// "index.html" for "/" and "/console"; nullopt for anything that is not a
// plain name (each segment [A-Za-z0-9._-], no leading dot, at most 4 deep).
std::optional<std::string> console_file_for(const std::vector<std::string>& segments);

// The Content-Type for a console file, by its extension.
std::string console_content_type(const std::string& file);

}  // namespace kiln::api
