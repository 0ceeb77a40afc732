#include "tests/support/fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace earshot::test {

bool HttpResponder::raw(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

bool HttpResponder::start_chunked(int status, const std::string& content_type) {
  return raw("HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") +
             "\r\ncontent-type: " + content_type + "\r\ntransfer-encoding: chunked\r\n\r\n");
}

bool HttpResponder::chunk(std::string_view bytes) {
  char size[32];
  snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  return raw(size) && raw(bytes) && raw("\r\n");
}

bool HttpResponder::end_chunked() {
  return raw("0\r\n\r\n");
}

bool HttpResponder::full(int status, const std::string& content_type, std::string_view body) {
  const char* reason = status == 200  ? "OK"
                       : status < 500 ? "Bad Request"
                                      : "Internal Server Error";
  return raw("HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\ncontent-type: " +
             content_type + "\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n") &&
         raw(body);
}

bool HttpResponder::client_gone() {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  char c;
  return recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0 || (p.revents & (POLLHUP | POLLERR));
}

bool HttpResponder::wait_ms(int ms) {
  // Poll the socket rather than sleep: a client that closes is seen at once.
  for (int waited = 0; waited < ms; waited += 5) {
    if (client_gone()) return false;
    pollfd p{fd_, POLLRDHUP, 0};
    poll(&p, 1, std::min(5, ms - waited));
  }
  return !client_gone();
}

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  listen(listen_fd_, 64);
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { serve(); });
}

FakeHttpServer::~FakeHttpServer() {
  stop_.store(true);
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  acceptor_.join();
  for (std::thread& t : workers_)
    t.join();
}

std::vector<HttpRequestSeen> FakeHttpServer::requests() {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

void FakeHttpServer::serve() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mutex_);
    workers_.emplace_back([this, fd] { handle(fd); });
  }
}

void FakeHttpServer::handle(int fd) {
  std::string data;
  char buf[65536];
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  HttpRequestSeen req;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, size_t(n));
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end == std::string::npos) continue;
      const std::string head = data.substr(0, header_end);
      size_t line_end = head.find("\r\n");
      const std::string first = head.substr(0, line_end);
      const size_t sp1 = first.find(' '), sp2 = first.find(' ', sp1 + 1);
      req.method = first.substr(0, sp1);
      req.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t at = line_end + 2;
      while (at < head.size()) {
        size_t e = head.find("\r\n", at);
        if (e == std::string::npos) e = head.size();
        const std::string line = head.substr(at, e - at);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          std::transform(name.begin(), name.end(), name.begin(),
                         [](unsigned char c) { return char(std::tolower(c)); });
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value[0] == ' ')
            value.erase(0, 1);
          req.headers[name] = value;
        }
        at = e + 2;
      }
      if (req.headers.count("content-length"))
        content_length = size_t(std::stoul(req.headers["content-length"]));
    }
    if (data.size() >= header_end + 4 + content_length) {
      req.body = data.substr(header_end + 4, content_length);
      break;
    }
  }
  if (!req.method.empty()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(req);
    }
    HttpResponder responder(fd);
    handler_(req, responder);
  }
  shutdown(fd, SHUT_WR);
  close(fd);
}

std::string sse(const std::string& data) {
  return "data: " + data + "\n\n";
}

}  // namespace earshot::test
