// Resolver: host name -> addresses for the egress proxy. One lookup per
// connection; the proxy checks every address it returns and connects only
// to checked ones, never resolving twice (so a DNS answer cannot change
// between check and connect).
//
// With a hosts file (kilnd --egress-hosts), names are looked up there only
// ("ADDRESS NAME [NAME...]" lines, '#' comments, read again on every
// lookup so a test can change an answer between connections); a name not
// in it does not resolve and no DNS query leaves the machine. Without one,
// the system resolver (getaddrinfo, via Boost.Asio) answers.
//
// Thread-safety: single-threaded, on the daemon's io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kiln::egress {

// The addresses `name` has in a hosts-format text (lower case match).
std::vector<boost::asio::ip::address> lookup_hosts_text(std::string_view text,
                                                        std::string_view name);

class Resolver {
 public:
  explicit Resolver(std::string hosts_file = {}) : hosts_file_(std::move(hosts_file)) {}
  // An IP literal is returned as is. EHOSTUNREACH-style kUnprocessable when
  // the name does not resolve.
  boost::asio::awaitable<Result<std::vector<boost::asio::ip::address>>> resolve(
      std::string host) const;

 private:
  std::string hosts_file_;
};

}  // namespace kiln::egress
