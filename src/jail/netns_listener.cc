#include "jail/netns_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <thread>

namespace kiln::jail {

Result<UniqueFd> listen_in_netns(int pidfd, std::uint16_t port) {
  Status status;
  UniqueFd fd;
  // setns() changes only the calling thread's namespaces; this thread ends
  // right after, so the daemon's own threads never leave the host's.
  std::thread worker([&] {
    if (::setns(pidfd, CLONE_NEWNET) != 0) {
      status = Status::from_errno("setns(sandbox net namespace)");
      return;
    }
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      status = Status::from_errno("socket() in the sandbox namespace");
      return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      status = Status::from_errno("bind(127.0.0.1:" + std::to_string(port) + ") in the sandbox");
      return;
    }
    if (::listen(fd.get(), 128) != 0) status = Status::from_errno("listen() in the sandbox");
  });
  worker.join();
  if (!status) return status;
  return fd;
}

}  // namespace kiln::jail
