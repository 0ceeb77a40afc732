// One HTTP request to an engine server (libcurl), streaming the response body to a callback and
// returning promptly — within about 20 ms — once the CancelToken is cancelled, closing the
// connection (so a barge-in really stops the LLM or TTS server's work).
//
// Timeouts: connect_timeout_ms to connect; first_byte_timeout_ms until the first body byte (an
// LLM's first token); idle_timeout_ms for the longest gap between body bytes; total_timeout_ms for
// the whole request (0 = none). Each failure comes back as a sentence naming the server.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "host/engines/engines.h"

namespace earshot::host {

struct HttpRequest {
  std::string url;
  std::string body;                  // POST body (empty: GET)
  std::vector<std::string> headers;  // "Name: value"
  int connect_timeout_ms = 2000;
  int first_byte_timeout_ms = 15000;
  int idle_timeout_ms = 15000;
  int total_timeout_ms = 0;
};

struct HttpResponse {
  bool ok = false;  // transport worked and status is 2xx
  bool cancelled = false;
  long status = 0;  // HTTP status, 0 if none arrived
  std::string content_type;
  std::string error;       // when !ok: what went wrong, for a person
  std::string error_body;  // the body of a non-2xx response (not streamed to on_body)
  // The response's header lines ("Name: value", line end stripped), e.g. for an MCP server's
  // Mcp-Session-Id. Available to on_body callbacks too, as they have all arrived by then.
  std::vector<std::string> headers;
};

// The value of header `name` (case-insensitive) among `headers`, or "".
std::string header_value(const std::vector<std::string>& headers, const std::string& name);

// Initialises libcurl (and through it OpenSSL) once. Call it from main() before any thread starts,
// as libcurl asks: the first http_request() does it otherwise, on whatever thread it runs, and
// OpenSSL then keeps that thread's error state, which is lost when the thread ends.
void http_client_init();

// Streams a 2xx response body to on_body (return false to stop; the response is then ok and not
// cancelled). Non-2xx bodies are collected into error_body and summarized in error.
HttpResponse http_request(const HttpRequest& request,
                          const std::function<bool(std::string_view chunk)>& on_body,
                          const CancelToken& cancel);

// Whether `url` is one this client can send a request to: http:// or https://, a host, and a port
// 1-65535 if one is given. "" if so, else what is wrong with it, e.g. "'htp:/nowhere' is not an
// http:// or https:// URL". Engine base URLs are vetted with it when the config is loaded.
std::string http_url_problem(const std::string& url);

// The human part of an error body: OpenAI's {"error":{"message":...}}, {"message":...},
// {"detail":...}, or the first 200 bytes of whatever it is.
std::string summarize_error_body(const std::string& body);

// A multipart/form-data body. Returns the body; `*content_type` receives its header value.
struct MultipartPart {
  std::string name;
  std::string value;
  std::string filename;      // set for a file part
  std::string content_type;  // for a file part
};
std::string build_multipart(const std::vector<MultipartPart>& parts, std::string* content_type);

}  // namespace earshot::host
