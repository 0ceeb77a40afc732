#include "tests/support/ws_test_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

namespace earshot::test {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WsTestClient::~WsTestClient() {
  if (fd_ >= 0) close(fd_);
}

bool WsTestClient::connect(int port, const std::vector<std::string>& headers, int receive_buffer,
                           std::string* error, const std::string& path,
                           const std::string& subprotocol) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0)
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = std::string("connect: ") + strerror(errno);
    return false;
  }
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (!subprotocol.empty()) request += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n";
  for (const std::string& h : headers)
    request += h + "\r\n";
  request += "\r\n";
  if (!write_all(request.data(), request.size(), 2000)) {
    *error = "cannot send the upgrade request";
    return false;
  }
  const int64_t deadline = now_ms() + 5000;
  while (rx_.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, int(std::max<int64_t>(0, deadline - now_ms()))) <= 0) {
      *error = "no answer to the upgrade request";
      return false;
    }
    char buf[4096];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      *error = "connection closed during the upgrade";
      return false;
    }
    rx_.append(buf, size_t(n));
  }
  const size_t end = rx_.find("\r\n\r\n") + 4;
  const std::string status = rx_.substr(0, rx_.find("\r\n"));
  rx_.erase(0, end);
  if (status.find(" 101 ") == std::string::npos) {
    *error = "upgrade refused: " + status;
    return false;
  }
  return true;
}

bool WsTestClient::write_all(const char* data, size_t n, int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  while (n > 0) {
    const ssize_t w = send(fd_, data, n, MSG_NOSIGNAL);
    if (w > 0) {
      data += w;
      n -= size_t(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    pollfd p{fd_, POLLOUT, 0};
    const int64_t left = deadline - now_ms();
    if (left <= 0 || poll(&p, 1, int(left)) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP)) return false;
  }
  return true;
}

bool WsTestClient::send_frame(uint8_t opcode, const std::string& payload, int timeout_ms) {
  static std::mt19937 rng(7);
  std::string frame;
  frame += char(0x80 | opcode);
  const size_t n = payload.size();
  if (n < 126) {
    frame += char(0x80 | n);
  } else if (n < 65536) {
    frame += char(0x80 | 126);
    frame += char(n >> 8);
    frame += char(n & 0xff);
  } else {
    frame += char(0x80 | 127);
    for (int i = 7; i >= 0; --i)
      frame += char((uint64_t(n) >> (8 * i)) & 0xff);
  }
  const uint32_t key = rng();
  const char mask[4] = {char(key >> 24), char(key >> 16), char(key >> 8), char(key)};
  frame.append(mask, 4);
  for (size_t i = 0; i < n; ++i)
    frame += char(payload[i] ^ mask[i % 4]);
  return write_all(frame.data(), frame.size(), timeout_ms);
}

bool WsTestClient::send_text(const std::string& text, int timeout_ms) {
  return send_frame(0x1, text, timeout_ms);
}

bool WsTestClient::send_binary(const std::string& bytes, int timeout_ms) {
  return send_frame(0x2, bytes, timeout_ms);
}

WsTestClient::Received WsTestClient::read(int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  Received r;
  while (true) {
    // A whole frame buffered?
    if (rx_.size() >= 2) {
      const auto b0 = uint8_t(rx_[0]), b1 = uint8_t(rx_[1]);
      size_t len = b1 & 0x7f, at = 2;
      if (len == 126 && rx_.size() >= 4) {
        len = size_t(uint8_t(rx_[2])) << 8 | uint8_t(rx_[3]);
        at = 4;
      } else if (len == 127 && rx_.size() >= 10) {
        len = 0;
        for (int i = 0; i < 8; ++i)
          len = len << 8 | uint8_t(rx_[2 + size_t(i)]);
        at = 10;
      }
      const bool header_known = (b1 & 0x7f) < 126 || at > 2;
      if (header_known && rx_.size() >= at + len) {
        const std::string payload = rx_.substr(at, len);
        rx_.erase(0, at + len);
        const int opcode = b0 & 0x0f;
        if (opcode == 0x1 || opcode == 0x2) {
          r.kind = opcode == 0x1 ? Received::kText : Received::kBinary;
          r.payload = payload;
          return r;
        }
        if (opcode == 0x8) {
          r.kind = Received::kClose;
          if (payload.size() >= 2)
            r.close_code = uint16_t(uint8_t(payload[0]) << 8 | uint8_t(payload[1]));
          r.payload = payload.size() > 2 ? payload.substr(2) : "";
          return r;
        }
        // A ping is answered, as every client must (RFC 6455 5.5.2): libwebsockets pings a
        // connection after 5 idle-validity minutes and hangs up on one that does not answer.
        if (opcode == 0x9) send_frame(0xA, payload, 1000);
        continue;  // pong/continuation: not used by the bridge's messages
      }
    }
    pollfd p{fd_, POLLIN, 0};
    const int64_t left = deadline - now_ms();
    if (left <= 0 || poll(&p, 1, int(left)) <= 0) {
      r.kind = Received::kTimeout;
      return r;
    }
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      r.kind = Received::kGone;
      return r;
    }
    rx_.append(buf, size_t(n));
  }
}

int WsTestClient::read_until_closed(int timeout_ms, std::vector<std::string>* texts) {
  const int64_t deadline = now_ms() + timeout_ms;
  while (true) {
    const Received r = read(int(std::max<int64_t>(0, deadline - now_ms())));
    if (r.kind == Received::kClose) return r.close_code;
    if (r.kind == Received::kGone) return 0;
    if (r.kind == Received::kTimeout) return -1;
    if (r.kind == Received::kText && texts) texts->push_back(r.payload);
  }
}

}  // namespace earshot::test
