// FakeHttpServer: a real HTTP/1.1 server on a loopback port, for testing the bridge's clients of
// servers that cannot run here (an LLM, a whisper server, Kokoro). The test's handler writes the
// response bytes itself — status line, headers, chunked body pieces, stalls, a cut connection — so
// a test can reproduce a real server's wire format byte for byte, and its failures.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace earshot::test {

struct HttpRequestSeen {
  std::string method, path, body;
  std::map<std::string, std::string> headers;  // lower-cased names
};

class HttpResponder {
 public:
  explicit HttpResponder(int fd) : fd_(fd) {}
  // Raw bytes, exactly as given. False once the client has gone.
  bool raw(std::string_view bytes);
  // Status line and headers for a chunked response.
  bool start_chunked(int status, const std::string& content_type);
  bool chunk(std::string_view bytes);  // one chunk of a chunked body
  bool end_chunked();
  // A whole response with Content-Length.
  bool full(int status, const std::string& content_type, std::string_view body);
  // Waits up to `ms`, returning early (false) if the client closes the connection.
  bool wait_ms(int ms);
  bool client_gone();

 private:
  int fd_;
};

class FakeHttpServer {
 public:
  using Handler = std::function<void(const HttpRequestSeen&, HttpResponder&)>;
  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer();
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::vector<HttpRequestSeen> requests();

 private:
  void serve();
  void handle(int fd);
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<HttpRequestSeen> requests_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

// SSE helpers: "data: <json>\n\n".
std::string sse(const std::string& data);

}  // namespace earshot::test
