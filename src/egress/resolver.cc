#include "egress/resolver.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/ascii.h"

namespace kiln::egress {

namespace asio = boost::asio;
namespace ip = asio::ip;

namespace {

constexpr std::size_t kMaxHostsBytes = 1 << 20;

std::string lower(std::string_view s) { return ascii_lower(s); }

}  // namespace

std::vector<ip::address> lookup_hosts_text(std::string_view text, std::string_view name) {
  std::vector<ip::address> out;
  const std::string want = lower(name);
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string addr_text, n;
    if (!(words >> addr_text)) continue;
    boost::system::error_code ec;
    const ip::address addr = ip::make_address(addr_text, ec);
    if (ec) continue;
    while (words >> n) {
      if (lower(n) == want && std::find(out.begin(), out.end(), addr) == out.end()) {
        out.push_back(addr);
      }
    }
  }
  return out;
}

asio::awaitable<Result<std::vector<ip::address>>> Resolver::resolve(std::string host) const {
  boost::system::error_code ec;
  const ip::address literal = ip::make_address(host, ec);
  if (!ec) co_return std::vector<ip::address>{literal};
  if (!hosts_file_.empty()) {
    std::ifstream f(hosts_file_);
    std::string text(kMaxHostsBytes, '\0');
    f.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(f.gcount()));
    auto found = lookup_hosts_text(text, host);
    if (found.empty()) co_return Status::unprocessable(host + " does not resolve");
    co_return found;
  }
  ip::tcp::resolver resolver(co_await asio::this_coro::executor);
  auto results =
      co_await resolver.async_resolve(host, "", asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Status::unprocessable(host + " does not resolve: " + ec.message());
  std::vector<ip::address> out;
  for (const auto& r : results) {
    const ip::address a = r.endpoint().address();
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  if (out.empty()) co_return Status::unprocessable(host + " does not resolve");
  co_return out;
}

}  // namespace kiln::egress
