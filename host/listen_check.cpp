#include "host/listen_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace earshot::host {

std::string check_can_listen(const std::string& address, int port) {
  if (port == 0) return "";  // the kernel picks a free one
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(address.empty() ? nullptr : address.c_str(), std::to_string(port).c_str(), &hints,
                  &found) != 0)
    return "";
  std::string problem;
  const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd >= 0) {
    const int on = 1;  // as lws does: a port left in TIME_WAIT by our last run is not "in use"
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
      const int e = errno;
      problem = strerror(e);
      if (e == EADDRINUSE) problem += " (another process has the port)";
      if (e == EADDRNOTAVAIL) problem += " (not an address of this machine)";
      if (e == EACCES) problem += " (ports below 1024 need privileges)";
    }
    close(fd);
  }
  freeaddrinfo(found);
  return problem;
}

}  // namespace earshot::host
