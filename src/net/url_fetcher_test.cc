// fetch_url tests. Every server here is one the test starts on a loopback
// address; nothing is sent anywhere else (no names are looked up that are
// not in /etc/hosts, so not even DNS traffic leaves the machine).
#include "net/url_fetcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <mutex>
#include <thread>

namespace kiln::net {
namespace {

using namespace std::chrono_literals;

// What the test server sends back for one request.
struct Reply {
  std::string data;
  bool hang_after = false;  // keep the connection open (silent) until shutdown
};

Reply ok(const std::string& body, const std::string& extra_headers = "") {
  return {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n" + extra_headers + "Connection: close\r\n\r\n" +
          body};
}

// A one-thread blocking HTTP/1.1 server on a loopback address that counts
// accepted connections. With a TLS context it speaks HTTPS.
class LoopbackServer {
 public:
  using Handler = std::function<Reply(const std::string& request)>;

  LoopbackServer(const std::string& addr, Handler handler, SSL_CTX* tls = nullptr)
      : handler_(std::move(handler)), tls_(tls) {
    const bool v6 = addr.find(':') != std::string::npos;
    fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr);
      len = sizeof *s6;
    } else {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      inet_pton(AF_INET, addr.c_str(), &s4->sin_addr);
      len = sizeof *s4;
    }
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
          listen(fd_, 16) == 0 && getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (pipe2(stop_, O_CLOEXEC) != 0) ok_ = false;
    if (ok_) thread_ = std::thread([this] { run(); });
  }

  ~LoopbackServer() {
    if (thread_.joinable()) {
      char c = 0;
      (void)!write(stop_[1], &c, 1);
      thread_.join();
    }
    for (int fd : held_) close(fd);
    if (fd_ >= 0) close(fd_);
    close(stop_[0]);
    close(stop_[1]);
  }

  bool ok() const { return ok_; }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  // Waits for `fd` to be readable; false if the test is shutting down.
  bool wait_readable(int fd) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    while (poll(p, 2, -1) < 0) {
    }
    return !(p[1].revents & POLLIN);
  }

  void run() {
    while (wait_readable(fd_)) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      serve(c);
    }
  }

  void serve(int c) {
    SSL* ssl = nullptr;
    if (tls_) {
      ssl = SSL_new(tls_);
      SSL_set_fd(ssl, c);
      if (SSL_accept(ssl) != 1) {  // e.g. the client rejected our certificate
        SSL_free(ssl);
        close(c);
        return;
      }
    }
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      if (!ssl && !wait_readable(c)) break;
      const int n =
          ssl ? SSL_read(ssl, buf, sizeof buf) : static_cast<int>(read(c, buf, sizeof buf));
      if (n <= 0) break;
      req.append(buf, n);
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(req);
    }
    Reply r = handler_(req);
    std::size_t off = 0;
    while (off < r.data.size()) {
      const int n =
          ssl ? SSL_write(ssl, r.data.data() + off, static_cast<int>(r.data.size() - off))
              : static_cast<int>(send(c, r.data.data() + off, r.data.size() - off, MSG_NOSIGNAL));
      if (n <= 0) break;  // the client hung up (e.g. over the cap)
      off += n;
    }
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (r.hang_after) {
      held_.push_back(c);
    } else {
      shutdown(c, SHUT_WR);
      close(c);
    }
  }

  Handler handler_;
  SSL_CTX* tls_;
  int fd_ = -1;
  int stop_[2] = {-1, -1};
  bool ok_ = false;
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<int> held_;
  std::thread thread_;
};

// Runs one fetch to completion on a private io_context.
Result<FetchResult> fetch(const std::string& url, FetchOptions opts = {}) {
  boost::asio::io_context io;
  std::optional<Result<FetchResult>> out;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        out.emplace(co_await fetch_url(url, std::move(opts)));
      },
      boost::asio::detached);
  io.run();
  if (!out) return Status::internal("fetch did not complete");
  return std::move(*out);
}

FetchOptions allow(std::initializer_list<std::string> entries) {
  FetchOptions o;
  for (const auto& e : entries) EXPECT_TRUE(o.policy.allow(e)) << e;
  return o;
}

std::string base(const std::string& host, const LoopbackServer& s) {
  return "http://" + host + ":" + std::to_string(s.port());
}

bool ipv6_loopback_works() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

TEST(UrlFetcher, LoopbackSpellingsAreRefusedWithoutConnecting) {
  LoopbackServer s("127.0.0.1", [](const std::string&) { return ok("secret"); });
  ASSERT_TRUE(s.ok());
  const std::string port = std::to_string(s.port());
  for (const std::string host :
       {"127.0.0.1", "localhost", "LOCALHOST", "127.1", "0x7f000001", "2130706433", "017700000001",
        "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"}) {
    const std::string url = "http://" + host + ":" + port + "/x";
    Result<FetchResult> r = fetch(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid) << url << ": " << r.status().message();
    EXPECT_NE(r.status().message().find("loopback address"), std::string::npos)
        << r.status().message();
    EXPECT_EQ(r.status().message().rfind("refusing to fetch " + url + ": ", 0), 0u)
        << r.status().message();
  }
  EXPECT_EQ(s.connections(), 0);
  Result<FetchResult> r = fetch("http://127.1:" + port + "/");
  EXPECT_EQ(r.status().message(),
            "refusing to fetch http://127.1:" + port + "/: 127.0.0.1 is a loopback address");
}

TEST(UrlFetcher, Ipv6LoopbackIsRefusedWithoutConnecting) {
  if (!ipv6_loopback_works()) GTEST_SKIP() << "no IPv6 loopback here";
  LoopbackServer s("::1", [](const std::string&) { return ok("secret"); });
  ASSERT_TRUE(s.ok());
  Result<FetchResult> r = fetch("http://[::1]:" + std::to_string(s.port()) + "/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid);
  EXPECT_NE(r.status().message().find("::1 is a loopback address"), std::string::npos);
  EXPECT_EQ(s.connections(), 0);

  // Allowlisted, the same URL works: the refusal above was the policy.
  r = fetch("http://[::1]:" + std::to_string(s.port()) + "/x", allow({"::1"}));
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->body, "secret");
  EXPECT_EQ(s.connections(), 1);
  EXPECT_NE(s.requests()[0].find("Host: [::1]:" + std::to_string(s.port()) + "\r\n"),
            std::string::npos);
}

TEST(UrlFetcher, AllowlistedCidrSucceeds) {
  LoopbackServer s("127.0.0.1", [](const std::string&) { return ok("hello, file"); });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1/32"});
  o.user_agent = "kiln-test/1";
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/data/report.csv?x=1#frag", o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello, file");
  EXPECT_EQ(r->content_type, "text/plain");
  EXPECT_EQ(r->file_name, "report.csv");
  EXPECT_EQ(s.connections(), 1);
  const std::string req = s.requests().at(0);
  EXPECT_EQ(req.rfind("GET /data/report.csv?x=1 HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Host: 127.0.0.1:" + std::to_string(s.port()) + "\r\n"), std::string::npos);
  EXPECT_NE(req.find("User-Agent: kiln-test/1\r\n"), std::string::npos);

  // "localhost" resolves (from /etc/hosts) into the allowlisted block.
  r = fetch(base("localhost", s) + "/", o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->file_name, "download");
}

TEST(UrlFetcher, AllowlistedHostName) {
  LoopbackServer s("127.0.0.1", [](const std::string&) { return ok("by name"); });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"localhost"});
  Result<FetchResult> r = fetch(base("localhost", s) + "/f.txt", o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->body, "by name");
  // The name is allowed, not the address: the literal is still refused.
  r = fetch(base("127.0.0.1", s) + "/f.txt", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid);
  EXPECT_EQ(s.connections(), 1);
}

TEST(UrlFetcher, RedirectToRefusedAddressIsRefused) {
  LoopbackServer target("127.0.0.1", [](const std::string&) { return ok("secret"); });
  ASSERT_TRUE(target.ok());
  const std::string secret = base("127.0.0.1", target) + "/secret";
  LoopbackServer first("127.0.0.2", [&](const std::string&) {
    return Reply{"HTTP/1.1 302 Found\r\nLocation: " + secret +
                 "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"};
  });
  ASSERT_TRUE(first.ok());
  const std::string start = base("127.0.0.2", first) + "/start";
  Result<FetchResult> r = fetch(start, allow({"127.0.0.2/32"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid);
  EXPECT_EQ(r.status().message(), "refusing to fetch " + secret + " (redirected from " + start +
                                      "): 127.0.0.1 is a loopback address");
  EXPECT_EQ(first.connections(), 1);
  EXPECT_EQ(target.connections(), 0);
}

TEST(UrlFetcher, RedirectToMetadataIsRefused) {
  // The Location names the metadata address; the fetcher must refuse it
  // from the address alone, so no connection is ever attempted.
  LoopbackServer first("127.0.0.2", [&](const std::string&) {
    return Reply{
        "HTTP/1.1 301 Moved\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n"
        "Content-Length: 0\r\n\r\n"};
  });
  ASSERT_TRUE(first.ok());
  Result<FetchResult> r = fetch(base("127.0.0.2", first) + "/", allow({"127.0.0.2"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid);
  EXPECT_NE(r.status().message().find("169.254.169.254 is a metadata address"), std::string::npos)
      << r.status().message();
}

TEST(UrlFetcher, RedirectToOtherSchemeIsRefused) {
  LoopbackServer first("127.0.0.1", [&](const std::string&) {
    return Reply{"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"};
  });
  ASSERT_TRUE(first.ok());
  Result<FetchResult> r = fetch(base("127.0.0.1", first) + "/", allow({"127.0.0.1"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid);
  EXPECT_NE(r.status().message().find("only http(s) URLs are allowed"), std::string::npos);
}

TEST(UrlFetcher, RelativeRedirectsAreFollowedAndCounted) {
  LoopbackServer s("127.0.0.1", [](const std::string& req) {
    if (req.rfind("GET /a ", 0) == 0) {
      return Reply{"HTTP/1.1 307 Temporary\r\nLocation: /b/c?q=1\r\nContent-Length: 0\r\n\r\n"};
    }
    if (req.rfind("GET /b/c?q=1 ", 0) == 0) {
      return Reply{"HTTP/1.1 303 See Other\r\nLocation: ../final.bin\r\n\r\n"};
    }
    if (req.rfind("GET /final.bin ", 0) == 0) return ok("done");
    if (req.rfind("GET /loop ", 0) == 0) {
      return Reply{"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n"};
    }
    return Reply{"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"};
  });
  ASSERT_TRUE(s.ok());
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/a", allow({"127.0.0.1"}));
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(r->final_url, base("127.0.0.1", s) + "/final.bin");
  EXPECT_EQ(r->file_name, "final.bin");
  EXPECT_EQ(s.connections(), 3);

  FetchOptions o = allow({"127.0.0.1"});
  o.max_redirects = 2;
  r = fetch(base("127.0.0.1", s) + "/loop", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().error_number(), ELOOP);
  EXPECT_EQ(s.connections(), 3 + 3);  // first request + 2 followed redirects
}

TEST(UrlFetcher, Non2xxIsAnError) {
  LoopbackServer s("127.0.0.1", [](const std::string&) {
    return Reply{"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"};
  });
  ASSERT_TRUE(s.ok());
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/missing", allow({"127.0.0.1"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnprocessable);
  EXPECT_NE(r.status().message().find("404 Not Found"), std::string::npos) << r.status().message();
}

TEST(UrlFetcher, StreamedBodyOverCapIsRefused) {
  // No Content-Length: the body is delimited by close, so only counting
  // while reading can catch it.
  LoopbackServer s("127.0.0.1", [](const std::string&) {
    return Reply{"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(5000, 'x')};
  });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1"});
  o.max_bytes = 4096;
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/big", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kTooLarge) << r.status().message();

  // Exactly at the cap is fine.
  o.max_bytes = 5000;
  r = fetch(base("127.0.0.1", s) + "/big", o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->body.size(), 5000u);
}

TEST(UrlFetcher, ChunkedBodyOverCapIsRefused) {
  LoopbackServer s("127.0.0.1", [](const std::string&) {
    std::string chunk(1000, 'y');
    std::string body;
    for (int i = 0; i < 5; ++i) body += "3e8\r\n" + chunk + "\r\n";
    return Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + "0\r\n\r\n"};
  });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1"});
  o.max_bytes = 4500;
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/big", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kTooLarge) << r.status().message();
  o.max_bytes = 5000;
  r = fetch(base("127.0.0.1", s) + "/big", o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->body, std::string(5000, 'y'));
}

TEST(UrlFetcher, ContentLengthOverCapIsRefusedBeforeReadingTheBody) {
  // The server announces 10 MB and then sends nothing: a client that tried
  // to read the body would hang until its timeout.
  LoopbackServer s("127.0.0.1", [](const std::string&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n", /*hang_after=*/true};
  });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1"});
  o.max_bytes = 1 << 20;
  o.timeout = 10s;
  const auto t0 = std::chrono::steady_clock::now();
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/big", o);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kTooLarge);
  EXPECT_NE(r.status().message().find("10000000 bytes"), std::string::npos) << r.status().message();
  EXPECT_LT(took, 2s);
}

TEST(UrlFetcher, SilentServerTimesOut) {
  LoopbackServer s("127.0.0.1", [](const std::string&) { return Reply{"", true}; });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1"});
  o.timeout = 500ms;
  const auto t0 = std::chrono::steady_clock::now();
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/slow", o);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnprocessable) << r.status().message();
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(s.connections(), 1);
}

TEST(UrlFetcher, SilentTlsServerTimesOut) {
  // A plain server that never answers the ClientHello: the handshake, not
  // just the HTTP exchange, is under the deadline.
  LoopbackServer s("127.0.0.1", [](const std::string&) { return Reply{"", true}; });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1"});
  o.timeout = 400ms;
  const auto t0 = std::chrono::steady_clock::now();
  Result<FetchResult> r = fetch("https://127.0.0.1:" + std::to_string(s.port()) + "/", o);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnprocessable) << r.status().message();
  EXPECT_LT(took, 2s);
}

TEST(UrlFetcher, ZeroTimeoutFailsWithoutConnecting) {
  LoopbackServer s("127.0.0.1", [](const std::string&) { return ok("x"); });
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1"});
  o.timeout = 0ms;
  Result<FetchResult> r = fetch(base("localhost", s) + "/", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnprocessable) << r.status().message();
  EXPECT_EQ(s.connections(), 0);
}

TEST(UrlFetcher, OnlyHttpAndHttpsWithoutUserInfo) {
  for (const std::string url :
       {"ftp://example.com/f", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)",
        "data:text/plain,hi", "/relative/path", "example.com/f"}) {
    Result<FetchResult> r = fetch(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid) << url << ": " << r.status().message();
  }
  EXPECT_NE(fetch("ftp://example.com/f").status().message().find("only http(s) URLs are allowed"),
            std::string::npos);
  for (const std::string url :
       {"http://user:pass@example.com/", "http://user@example.com/",
        "https://trusted.example@169.254.169.254/", "http://:@example.com/", "http:///nohost",
        "http://example.com:99999/", "http://exa mple.com/", "http://127.0.0.%31/"}) {
    Result<FetchResult> r = fetch(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.status().kind(), ErrorKind::kInvalid) << url << ": " << r.status().message();
  }
}

TEST(UrlFetcher, FileNames) {
  EXPECT_EQ(file_name_from_content_disposition("attachment; filename=\"report 1.csv\""),
            "report 1.csv");
  EXPECT_EQ(file_name_from_content_disposition("attachment; filename=plain.txt; size=3"),
            "plain.txt");
  EXPECT_EQ(
      file_name_from_content_disposition(
          "attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt"),
      "na\xC3\xAFve \xE2\x82\xAC.txt");
  EXPECT_EQ(file_name_from_content_disposition("attachment; filename*=iso-8859-1'en'caf%E9.txt"),
            "caf\xC3\xA9.txt");
  EXPECT_EQ(file_name_from_content_disposition("attachment; filename=\"a\\\"b.txt\""), "a\"b.txt");
  EXPECT_EQ(file_name_from_content_disposition("inline"), "");
  EXPECT_EQ(file_name_from_content_disposition(""), "");

  EXPECT_EQ(sanitize_file_name("../../etc/passwd"), "passwd");
  EXPECT_EQ(sanitize_file_name("..\\..\\win.ini"), "win.ini");
  EXPECT_EQ(sanitize_file_name(std::string("a\0b\nc.txt", 9)), "abc.txt");
  EXPECT_EQ(sanitize_file_name(".."), "download");
  EXPECT_EQ(sanitize_file_name("."), "download");
  EXPECT_EQ(sanitize_file_name("dir/"), "download");
  EXPECT_EQ(sanitize_file_name("   "), "download");
  EXPECT_EQ(sanitize_file_name(""), "download");
  EXPECT_EQ(sanitize_file_name("bad\xff.txt"), "bad_.txt");
  EXPECT_EQ(sanitize_file_name(std::string(300, 'a')).size(), 255u);
  // A 2-byte character straddling byte 255 is dropped whole.
  const std::string cut = sanitize_file_name(std::string(254, 'a') + "\xC3\xA9" + "zz");
  EXPECT_EQ(cut, std::string(254, 'a'));

  EXPECT_EQ(file_name_for("", "http://h/a/b/data.xlsx?x=1"), "data.xlsx");
  EXPECT_EQ(file_name_for("", "http://h/a/my%20file.csv"), "my file.csv");
  EXPECT_EQ(file_name_for("", "http://h/a/%2e%2e"), "download");
  EXPECT_EQ(file_name_for("", "http://h/a/..%2F..%2Fetc%2Fpasswd"), "passwd");
  EXPECT_EQ(file_name_for("", "http://h/"), "download");
  EXPECT_EQ(file_name_for("", "http://h"), "download");
  EXPECT_EQ(file_name_for("attachment; filename=\"x.csv\"", "http://h/y.csv"), "x.csv");
  EXPECT_EQ(file_name_for("attachment; filename=\"/\"", "http://h/y.csv"), "y.csv");
}

TEST(UrlFetcher, FileNameFromContentDispositionOverTheWire) {
  LoopbackServer s("127.0.0.1", [](const std::string&) {
    return ok("a,b\n1,2\n", "Content-Disposition: attachment; filename=\"../../sales.csv\"\r\n");
  });
  ASSERT_TRUE(s.ok());
  Result<FetchResult> r = fetch(base("127.0.0.1", s) + "/export?id=7", allow({"127.0.0.1"}));
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->file_name, "sales.csv");
}

// ---- TLS, against a loopback HTTPS server with a self-signed certificate.

struct TestCert {
  std::string cert_pem;
  SSL_CTX* ctx = nullptr;
  ~TestCert() { SSL_CTX_free(ctx); }
};

// A self-signed certificate for `san` (e.g. "IP:127.0.0.1") and a server
// context using it.
std::unique_ptr<TestCert> make_cert(const std::string& san) {
  auto out = std::make_unique<TestCert>();
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("kiln test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  out->cert_pem.assign(data, n);
  BIO_free(bio);
  out->ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(out->ctx, x);
  SSL_CTX_use_PrivateKey(out->ctx, key);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

TEST(UrlFetcher, HttpsVerifiesCertificates) {
  auto cert = make_cert("IP:127.0.0.1,DNS:localhost");
  LoopbackServer s(
      "127.0.0.1", [](const std::string&) { return ok("over tls"); }, cert->ctx);
  ASSERT_TRUE(s.ok());
  const std::string port = std::to_string(s.port());

  // Self-signed and not in the system store: refused.
  Result<FetchResult> r = fetch("https://127.0.0.1:" + port + "/t.txt", allow({"127.0.0.1"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnprocessable);
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos) << r.status().message();

  // Trusted explicitly: works by IP (checked against the IP SAN) and by name (SNI + DNS SAN).
  FetchOptions o = allow({"127.0.0.1"});
  o.extra_ca_pem = cert->cert_pem;
  r = fetch("https://127.0.0.1:" + port + "/t.txt", o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->body, "over tls");
  r = fetch("https://localhost:" + port + "/t.txt", o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->body, "over tls");
}

TEST(UrlFetcher, HttpsChecksTheHostName) {
  auto cert = make_cert("DNS:files.example");
  LoopbackServer s(
      "127.0.0.1", [](const std::string&) { return ok("over tls"); }, cert->ctx);
  ASSERT_TRUE(s.ok());
  FetchOptions o = allow({"127.0.0.1"});
  o.extra_ca_pem = cert->cert_pem;  // trusted, but for another name
  Result<FetchResult> r = fetch("https://127.0.0.1:" + std::to_string(s.port()) + "/", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnprocessable) << r.status().message();
  r = fetch("https://localhost:" + std::to_string(s.port()) + "/", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().kind(), ErrorKind::kUnprocessable) << r.status().message();
}

}  // namespace
}  // namespace kiln::net
