#include "device/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace earshot::device {

void systemd_notify(const char* state) {
  const char* path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = strlen(path);
  if (len >= sizeof addr.sun_path) return;
  memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract socket namespace
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sendto(fd, state, strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
         socklen_t(offsetof(sockaddr_un, sun_path) + len));
  close(fd);
}

int64_t systemd_watchdog_usec() {
  const char* usec = getenv("WATCHDOG_USEC");
  if (!usec) return 0;
  const char* pid = getenv("WATCHDOG_PID");
  if (pid && atol(pid) != long(getpid())) return 0;
  return atoll(usec);
}

}  // namespace earshot::device
