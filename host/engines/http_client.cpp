#include "host/engines/http_client.h"

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

namespace earshot::host {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Transfer {
  const std::function<bool(std::string_view)>* on_body;
  HttpResponse* response;
  CURL* curl;
  bool stopped_by_caller = false;
  bool header_checked = false;
  bool success_status = false;
  int64_t last_byte_ms = 0;
  bool got_byte = false;
};

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  t->got_byte = true;
  t->last_byte_ms = now_ms();
  if (!t->header_checked) {
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->response->status);
    t->success_status = t->response->status >= 200 && t->response->status < 300;
    const char* type = nullptr;
    if (curl_easy_getinfo(t->curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
      t->response->content_type = type;
    t->header_checked = true;
  }
  if (!t->success_status) {
    if (t->response->error_body.size() < 65536) t->response->error_body.append(data, bytes);
    return bytes;
  }
  if (!(*t->on_body)(std::string_view(data, bytes))) {
    t->stopped_by_caller = true;
    return 0;  // aborts the transfer
  }
  return bytes;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) response->headers.clear();  // a new response (after a 100)
  if (!line.empty() && response->headers.size() < 100) response->headers.push_back(line);
  return size * n;
}

std::string host_of(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find('/', start);
  return url.substr(0, end == std::string::npos ? url.size() : end);
}

}  // namespace

void http_client_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string http_url_problem(const std::string& url) {
  const std::string quoted = "'" + url + "'";
  size_t start = 0;
  if (url.rfind("http://", 0) == 0) {
    start = 7;
  } else if (url.rfind("https://", 0) == 0) {
    start = 8;
  } else {
    return quoted + " is not an http:// or https:// URL";
  }
  if (url.find_first_of(" \t\r\n") != std::string::npos) return quoted + " has spaces in it";
  std::string authority = url.substr(start, url.find_first_of("/?#", start) - start);
  if (const size_t at = authority.rfind('@'); at != std::string::npos)
    authority.erase(0, at + 1);  // user:password@ is not the host
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  std::string host = authority;
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    const std::string port = authority.substr(colon + 1);
    host = authority.substr(0, colon);
    const bool digits = !port.empty() && port.size() <= 5 &&
                        port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stol(port) < 1 || std::stol(port) > 65535)
      return quoted + " has a bad port (1-65535)";
  }
  if (host.empty() || host == "[]") return quoted + " has no host";
  return "";
}

std::string summarize_error_body(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    auto pick = [](const nlohmann::json& v) -> std::string {
      if (v.is_string()) return v.get<std::string>();
      if (v.is_object() && v.contains("message") && v["message"].is_string())
        return v["message"].get<std::string>();
      return v.dump();
    };
    if (j.contains("error")) return pick(j["error"]);
    if (j.contains("message")) return pick(j["message"]);
    if (j.contains("detail")) return pick(j["detail"]);
  }
  std::string s = body.substr(0, 200);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string build_multipart(const std::vector<MultipartPart>& parts, std::string* content_type) {
  const std::string boundary = "----earshot-7d1f0c6a2b9e4f58";
  std::string body;
  for (const MultipartPart& p : parts) {
    body += "--" + boundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n";
    if (!p.filename.empty())
      body += "Content-Type: " +
              (p.content_type.empty() ? std::string("application/octet-stream") : p.content_type) +
              "\r\n";
    body += "\r\n";
    body += p.value;
    body += "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  *content_type = "multipart/form-data; boundary=" + boundary;
  return body;
}

HttpResponse http_request(const HttpRequest& request,
                          const std::function<bool(std::string_view chunk)>& on_body,
                          const CancelToken& cancel) {
  http_client_init();
  HttpResponse response;
  const std::string server = host_of(request.url);
  CURL* curl = curl_easy_init();
  CURLM* multi = curl_multi_init();
  if (!curl || !multi) {
    if (curl) curl_easy_cleanup(curl);
    if (multi) curl_multi_cleanup(multi);
    response.error = "cannot start an HTTP request (out of memory)";
    return response;
  }
  Transfer t{&on_body, &response, curl};
  curl_slist* headers = nullptr;
  for (const std::string& h : request.headers)
    headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(request.connect_timeout_ms));
  if (request.total_timeout_ms > 0)
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(request.total_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_multi_add_handle(multi, curl);

  const int64_t start = now_ms();
  int running = 1;
  CURLcode result = CURLE_OK;
  bool timed_out_first = false, timed_out_idle = false;
  while (running) {
    if (cancel.cancelled()) {
      response.cancelled = true;
      break;
    }
    curl_multi_perform(multi, &running);
    if (!running) break;
    const int64_t now = now_ms();
    if (!t.got_byte && request.first_byte_timeout_ms > 0 &&
        now - start > request.first_byte_timeout_ms) {
      timed_out_first = true;
      break;
    }
    if (t.got_byte && request.idle_timeout_ms > 0 &&
        now - t.last_byte_ms > request.idle_timeout_ms) {
      timed_out_idle = true;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, 20, nullptr);  // wake at least every 20 ms: cancellation
  }
  int queued = 0;
  while (CURLMsg* m = curl_multi_info_read(multi, &queued))
    if (m->msg == CURLMSG_DONE) result = m->data.result;
  if (response.status == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);

  if (response.cancelled) {
    response.error = "cancelled";
  } else if (timed_out_first) {
    response.error =
        server + " sent nothing within " + std::to_string(request.first_byte_timeout_ms) + " ms";
  } else if (timed_out_idle) {
    response.error = server + " stalled for more than " + std::to_string(request.idle_timeout_ms) +
                     " ms in the middle of its answer";
  } else if (t.stopped_by_caller) {
    response.ok = true;
  } else if (result != CURLE_OK) {
    if (result == CURLE_COULDNT_CONNECT)
      response.error = server + " refused the connection (is the server running?)";
    else if (result == CURLE_OPERATION_TIMEDOUT)
      response.error = server + " did not answer in time";
    else if (result == CURLE_PARTIAL_FILE || result == CURLE_RECV_ERROR ||
             result == CURLE_GOT_NOTHING)
      response.error = server + " closed the connection in the middle of its answer";
    else
      response.error = server + ": " + curl_easy_strerror(result);
  } else if (response.status < 200 || response.status >= 300) {
    response.error = server + " answered HTTP " + std::to_string(response.status);
    if (!response.error_body.empty())
      response.error += ": " + summarize_error_body(response.error_body);
  } else {
    response.ok = true;
  }
  curl_multi_remove_handle(multi, curl);
  curl_easy_cleanup(curl);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  return response;
}

std::string header_value(const std::vector<std::string>& headers, const std::string& name) {
  for (const std::string& line : headers) {
    const size_t colon = line.find(':');
    if (colon != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < colon && same; ++i)
      same = std::tolower(static_cast<unsigned char>(line[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    if (!same) continue;
    size_t start = colon + 1;
    while (start < line.size() && (line[start] == ' ' || line[start] == '\t'))
      ++start;
    return line.substr(start);
  }
  return "";
}

}  // namespace earshot::host
