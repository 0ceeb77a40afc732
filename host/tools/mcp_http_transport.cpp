// MCP over Streamable HTTP (specification "basic/transports", Streamable HTTP): every message
// the client sends is a POST of its own to the server's one endpoint, accepting
// application/json and text/event-stream; the answer is a JSON body, or an SSE stream whose
// events are messages (the response, and notifications or requests before it), or 202 for a
// notification. The server may hand out a session (the Mcp-Session-Id header of the initialize
// answer), which every later request carries, with MCP-Protocol-Version. After initialization a
// GET on the same endpoint opens a stream for the server's own messages (tools/list_changed);
// a server that offers none answers 405.
//
// Losing the server — no connection, a connection cut in the middle of an answer, the session
// forgotten (404) — closes the transport; a plain HTTP error answers only that one request.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "host/engines/http_client.h"
#include "host/engines/sse_parser.h"
#include "host/tools/mcp_transport.h"

namespace earshot::host {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxJsonBody = 16 << 20;

class HttpTransport : public McpTransport {
 public:
  explicit HttpTransport(McpServerConfig config) : config_(std::move(config)) {}
  ~HttpTransport() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    listen_cancel_.cancel();
    if (listener_.joinable()) listener_.join();
  }

  bool open(OnMessage on_message, OnClosed on_closed, std::string*) override {
    on_message_ = std::move(on_message);
    on_closed_ = std::move(on_closed);
    return true;  // HTTP connects per request: the initialize request is the real test
  }

  bool send(const std::string& message, const CancelToken& cancel, Clock::time_point deadline,
            std::string* error) override {
    // Rounded up, so that a request cut at its deadline is seen as timed out (not as broken).
    const int left_ms =
        int(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count()) + 1;
    if (left_ms <= 1) return *error = "no time left to send", false;
    HttpRequest request;
    request.url = config_.url;
    request.body = message;
    request.headers = headers("application/json, text/event-stream");
    request.headers.push_back("Content-Type: application/json");
    request.connect_timeout_ms = std::min(left_ms, 5000);
    request.first_byte_timeout_ms = left_ms;
    request.idle_timeout_ms = left_ms;
    request.total_timeout_ms = left_ms;
    Body body(on_message_);
    HttpResponse response = http_request(
        request, [&](std::string_view chunk) { return body.push(chunk); }, cancel);
    if (std::string id = header_value(response.headers, "Mcp-Session-Id"); !id.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (session_id_.empty()) session_id_ = id;
    }
    if (response.ok) {
      body.finish();
      return true;
    }
    *error = response.error.empty() ? "no answer" : response.error;
    if (!response.cancelled && Clock::now() < deadline && broken(response))
      close_once(response.error);
    return false;
  }

  bool answers_in_send() const override { return true; }

  void initialized(const std::string& protocol_version) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      protocol_version_ = protocol_version;
    }
    listener_ = std::thread([this] { listen(); });
  }

 private:
  // A response body: one JSON message (or batch), or an SSE stream of them. Told apart by their
  // first byte, so a server that mislabels its Content-Type still works.
  class Body {
   public:
    explicit Body(const OnMessage& on_message) : on_message_(on_message) {}
    bool push(std::string_view chunk) {
      if (kind_ == Kind::kUnknown) {
        const size_t first = chunk.find_first_not_of(" \t\r\n");
        if (first == std::string_view::npos) return true;
        kind_ = chunk[first] == '{' || chunk[first] == '[' ? Kind::kJson : Kind::kSse;
      }
      if (kind_ == Kind::kSse) {
        return sse_.push(chunk, [&](const std::string& data) {
          on_message_(data);
          return true;
        });
      }
      if (json_.size() + chunk.size() > kMaxJsonBody) return false;
      json_.append(chunk);
      return true;
    }
    void finish() {
      if (kind_ == Kind::kJson) on_message_(json_);
    }

   private:
    enum class Kind { kUnknown, kJson, kSse };
    const OnMessage& on_message_;
    Kind kind_ = Kind::kUnknown;
    SseParser sse_;
    std::string json_;
  };

  std::vector<std::string> headers(const std::string& accept) {
    std::vector<std::string> out = {"Accept: " + accept};
    std::lock_guard<std::mutex> lock(mutex_);
    if (!session_id_.empty()) out.push_back("Mcp-Session-Id: " + session_id_);
    if (!protocol_version_.empty()) out.push_back("MCP-Protocol-Version: " + protocol_version_);
    for (const auto& [name, value] : config_.headers)
      out.push_back(name + ": " + value);
    return out;
  }

  // Whether a failed request means the server is gone (rather than one request refused).
  bool broken(const HttpResponse& response) {
    if (response.status == 0) return true;  // no connection, or no answer at all
    if (response.status >= 200 && response.status < 300) return true;  // cut mid-answer
    std::lock_guard<std::mutex> lock(mutex_);
    return response.status == 404 && !session_id_.empty();  // the session is forgotten
  }

  void close_once(const std::string& why) {
    if (!closed_.exchange(true)) on_closed_(why);
  }

  // The server's own stream: re-opened when the server ends it, given up on 405 (none offered).
  void listen() {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
      }
      HttpRequest request;
      request.url = config_.url;
      request.headers = headers("text/event-stream");
      request.connect_timeout_ms = 5000;
      request.first_byte_timeout_ms = 0;  // a quiet server sends nothing for hours
      request.idle_timeout_ms = 0;
      Body body(on_message_);
      HttpResponse response = http_request(
          request, [&](std::string_view chunk) { return body.push(chunk); }, listen_cancel_);
      if (response.cancelled || response.status == 405) return;
      if (!response.ok && broken(response)) {
        close_once("its event stream broke: " + response.error);
        return;
      }
      std::unique_lock<std::mutex> lock(mutex_);
      // Ended by the server, or refused with an error: try again in a while, not in a loop.
      wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    }
  }

  const McpServerConfig config_;
  OnMessage on_message_;
  OnClosed on_closed_;
  std::mutex mutex_;  // session_id_, protocol_version_, stopping_
  std::condition_variable wake_;
  std::string session_id_;
  std::string protocol_version_;
  bool stopping_ = false;
  std::atomic<bool> closed_{false};
  CancelToken listen_cancel_;
  std::thread listener_;
};

}  // namespace

std::unique_ptr<McpTransport> make_mcp_http_transport(const McpServerConfig& config) {
  return std::make_unique<HttpTransport>(config);
}

}  // namespace earshot::host
