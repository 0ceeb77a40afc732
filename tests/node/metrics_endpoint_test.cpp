// The node's metrics endpoint (device/metrics_endpoint.h) over a real socket: GET /metrics gets
// the rendered page, anything else 404 or 400, a client that says nothing does not block the next
// one, and an address that is not one is refused with a message.
#include "device/metrics_endpoint.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace earshot::device {
namespace {

// Sends `request` to 127.0.0.1:port and reads the whole answer (the endpoint closes after it).
std::string exchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed";
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    answer.append(buf, size_t(n));
  close(fd);
  return answer;
}

TEST(MetricsEndpoint, RequestLines) {
  EXPECT_EQ(metrics_request_target("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), "metrics");
  EXPECT_EQ(metrics_request_target("GET /metrics?name[]=x HTTP/1.0\r\n\r\n"), "metrics");
  EXPECT_EQ(metrics_request_target("HEAD /metrics HTTP/1.1\r\n"), "metrics");
  EXPECT_EQ(metrics_request_target("GET / HTTP/1.1\r\n"), "other");
  EXPECT_EQ(metrics_request_target("GET /metricsx HTTP/1.1\r\n"), "other");
  EXPECT_EQ(metrics_request_target("POST /metrics HTTP/1.1\r\n"), "");
  EXPECT_EQ(metrics_request_target("GET /metrics HTTP/2\r\n"), "");
  EXPECT_EQ(metrics_request_target("GET /metrics HTTP/1.1"), "");  // no end of line yet
  EXPECT_EQ(metrics_request_target("GET metrics HTTP/1.1\r\n"), "");
  EXPECT_EQ(metrics_request_target("\r\n"), "");
}

TEST(MetricsEndpoint, ServesTheRenderedPageAndNothingElse) {
  std::atomic<int> renders{0};
  MetricsEndpoint endpoint([&] {
    ++renders;
    return std::string("# HELP x_total X.\n# TYPE x_total counter\nx_total 7\n");
  });
  std::string error;
  ASSERT_TRUE(endpoint.start("127.0.0.1", 0, &error)) << error;
  ASSERT_GT(endpoint.port(), 0);
  const std::string page = exchange(endpoint.port(), "GET /metrics HTTP/1.1\r\nHost: n\r\n\r\n");
  EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << page;
  EXPECT_NE(page.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << page;
  EXPECT_NE(page.find("\r\n\r\n# HELP x_total X.\n"), std::string::npos) << page;
  EXPECT_EQ(renders.load(), 1);
  EXPECT_EQ(exchange(endpoint.port(), "GET /other HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(exchange(endpoint.port(), "DELETE /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0),
            0u);
  EXPECT_EQ(renders.load(), 1);  // only /metrics renders
  // A client that connects and sends half a line, then nothing: the next one is still answered.
  const std::string half = exchange(endpoint.port(), "GET /met");
  EXPECT_EQ(half.rfind("HTTP/1.1 400", 0), 0u) << half;
  EXPECT_EQ(exchange(endpoint.port(), "GET /metrics HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 200", 0),
            0u);
}

TEST(MetricsEndpoint, RefusesWhatItCannotListenOn) {
  MetricsEndpoint endpoint([] { return std::string(); });
  std::string error;
  EXPECT_FALSE(endpoint.start("kitchen", 9101, &error));
  EXPECT_NE(error.find("metrics.address"), std::string::npos) << error;
  MetricsEndpoint first([] { return std::string(); });
  ASSERT_TRUE(first.start("127.0.0.1", 0, &error)) << error;
  MetricsEndpoint second([] { return std::string(); });
  EXPECT_FALSE(second.start("127.0.0.1", first.port(), &error));
  EXPECT_NE(error.find("cannot listen"), std::string::npos) << error;
}

}  // namespace
}  // namespace earshot::device
