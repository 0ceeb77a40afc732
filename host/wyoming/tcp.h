// Plain TCP for the Wyoming parts of the bridge (satellites dialled out to, services listened
// on): non-blocking sockets, connect with a deadline, errors as messages. No threads of its own.
#pragma once

#include <string>

namespace earshot::host::tcp {

// A connected non-blocking socket, or -1 with `*error` ("connection refused", "timed out", ...).
int connect_to(const std::string& host, int port, int timeout_ms, std::string* error);
// A listening non-blocking socket on host:port (port 0: any), or -1 with `*error`.
int listen_on(const std::string& host, int port, std::string* error);
int bound_port(int fd);
// Writes all of `bytes` to a non-blocking socket, waiting (poll) up to `timeout_ms` for room.
bool write_all(int fd, const std::string& bytes, int timeout_ms);
// A self-pipe to wake a thread blocked in poll() (read end first).
struct Waker {
  int read_fd = -1, write_fd = -1;
  bool open();
  void wake() const;
  void drain() const;
  void close();
};

}  // namespace earshot::host::tcp
