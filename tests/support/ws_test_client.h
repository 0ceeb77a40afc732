// A WebSocket client for tests that misbehave on purpose: it floods, stops reading, or sends what
// it likes. Plain sockets and RFC 6455 framing written here (a few lines: the handshake, masked
// frames out, unmasked frames in), so a test controls every byte and every read — which no real
// client library allows. Well-behaved clients in tests are the real earshot-node.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace earshot::test {

class WsTestClient {
 public:
  WsTestClient() = default;
  ~WsTestClient();
  WsTestClient(const WsTestClient&) = delete;
  WsTestClient& operator=(const WsTestClient&) = delete;

  // Connects to 127.0.0.1:port and upgrades on `path` with `subprotocol` (none if empty: an
  // OpenAI Realtime client's) and `headers` ("Name: value"). `receive_buffer` > 0 sets SO_RCVBUF
  // first (a client that reads little).
  bool connect(int port, const std::vector<std::string>& headers, int receive_buffer,
               std::string* error, const std::string& path = "/",
               const std::string& subprotocol = "earshot.v1");

  // False when the frame could not be written within `timeout_ms` (the peer stopped reading, or
  // closed the connection).
  bool send_text(const std::string& text, int timeout_ms = 2000);
  bool send_binary(const std::string& bytes, int timeout_ms = 2000);

  struct Received {
    enum Kind { kText, kBinary, kClose, kTimeout, kGone } kind = kTimeout;
    std::string payload;
    uint16_t close_code = 0;  // kClose
  };
  // The next message within `timeout_ms`.
  Received read(int timeout_ms);
  // Reads until a close frame or the connection ends (`timeout_ms` in all); the close code, or 0
  // if it ended without one, or -1 on timeout. Text messages seen on the way are appended to
  // `texts` if given.
  int read_until_closed(int timeout_ms, std::vector<std::string>* texts = nullptr);

 private:
  bool send_frame(uint8_t opcode, const std::string& payload, int timeout_ms);
  bool write_all(const char* data, size_t n, int timeout_ms);
  int fd_ = -1;
  std::string rx_;
};

}  // namespace earshot::test
