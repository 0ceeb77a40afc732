#include "device/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

namespace earshot::device {

std::string_view metrics_request_target(std::string_view request) {
  const size_t end = request.find_first_of("\r\n");
  if (end == std::string_view::npos) return "";
  const std::string_view line = request.substr(0, end);
  const size_t first = line.find(' ');
  const size_t last = line.rfind(' ');
  if (first == std::string_view::npos || last == first) return "";
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, last - first - 1);
  const std::string_view version = line.substr(last + 1);
  if ((method != "GET" && method != "HEAD") || version.substr(0, 7) != "HTTP/1." ||
      version.size() != 8 || target.empty() || target.front() != '/')
    return "";
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/metrics" ? "metrics" : "other";
}

struct MetricsEndpoint::Impl {
  std::function<std::string()> render;
  int listen_fd = -1;
  int wake_fd = -1;  // eventfd: the destructor wakes the thread's poll()
  int bound_port = 0;
  std::thread thread;

  void serve();
  void answer(int fd);
};

MetricsEndpoint::MetricsEndpoint(std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
  impl_->render = std::move(render);
}

MetricsEndpoint::~MetricsEndpoint() {
  if (impl_->thread.joinable()) {
    const uint64_t one = 1;
    if (write(impl_->wake_fd, &one, sizeof one) < 0) {
    }  // cannot fail for an eventfd short of overflow; the thread then exits on its next poll
    impl_->thread.join();
  }
  if (impl_->listen_fd >= 0) close(impl_->listen_fd);
  if (impl_->wake_fd >= 0) close(impl_->wake_fd);
}

int MetricsEndpoint::port() const {
  return impl_->bound_port;
}

bool MetricsEndpoint::start(const std::string& address, int port, std::string* error) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    length = sizeof *v6;
  } else {
    *error = "metrics.address: '" + address + "' is not an IPv4 or IPv6 address";
    return false;
  }
  impl_->listen_fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int yes = 1;
  setsockopt(impl_->listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (impl_->listen_fd < 0 ||
      bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(impl_->listen_fd, 4) != 0) {
    *error = "metrics: cannot listen on " + address + ":" + std::to_string(port) + ": " +
             strerror(errno);
    return false;
  }
  getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&storage), &length);
  impl_->bound_port = ntohs(storage.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC);
  if (impl_->wake_fd < 0) {
    *error = std::string("metrics: eventfd: ") + strerror(errno);
    return false;
  }
  impl_->thread = std::thread([this] { impl_->serve(); });
  return true;
}

void MetricsEndpoint::Impl::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    answer(fd);
    close(fd);
  }
}

// One request, one answer, then the connection closes (HTTP/1.0 style: no keep-alive to track).
void MetricsEndpoint::Impl::answer(int fd) {
  char request[kMaxRequest];
  size_t got = 0;
  while (got < sizeof request) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) break;  // a client that stops short is answered with what it sent
    const ssize_t n = recv(fd, request + got, sizeof request - got, 0);
    if (n <= 0) break;
    got += size_t(n);
    if (std::string_view(request, got).find("\r\n\r\n") != std::string_view::npos) break;
  }
  if (got == 0) return;  // connected and said nothing: nothing to answer
  const std::string_view target = metrics_request_target(std::string_view(request, got));
  const bool head = got >= 4 && std::string_view(request, 4) == "HEAD";
  std::string body, status;
  if (target == "metrics") {
    status = "200 OK";
    body = render();
  } else {
    status = target.empty() ? "400 Bad Request" : "404 Not Found";
    body = target.empty() ? "bad request\n" : "not found: the node serves /metrics only\n";
  }
  std::string response = "HTTP/1.1 " + status +
                         "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                         "Content-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (!head) response += body;
  size_t sent = 0;
  while (sent < response.size()) {
    const ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += size_t(n);
  }
}

}  // namespace earshot::device
