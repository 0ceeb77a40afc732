// The metrics a person scrapes (docs/deploy.md, "Monitoring"): the bridge's /metrics and the
// node's own endpoint, both taken from real processes after a real spoken turn, parsed by
// Prometheus' own text parser (Debian's python3-prometheus-client, in metrics_conventions.py) and
// checked against Prometheus' naming conventions; and the Grafana dashboard in tools/deploy/ uses
// only names those scrapes hold.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "tests/integration/bridge_fixture.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using test::Bridge;
using test::Subprocess;

const std::string kChecker =
    std::string(EARSHOT_SOURCE_DIR) + "/tests/integration/metrics_conventions.py";
const std::string kDashboard = std::string(EARSHOT_SOURCE_DIR) + "/tools/deploy/grafana.json";
// Debian's python3, where python3-prometheus-client is installed (tools/install-deps.sh); a
// python3 earlier on PATH (pyenv) may not have it.
const std::string kPython = "/usr/bin/python3";

// The value of the series `series` (name and labels exactly as rendered) on `page`, or -1.
double value_of(const std::string& page, const std::string& series) {
  const std::string line = "\n" + series + " ";
  const size_t at = page.find(line);
  return at == std::string::npos ? -1 : std::stod(page.substr(at + line.size()));
}

// Runs the checker; its exit code, and what it printed in `out`.
int check(const std::string& dir, std::vector<std::string> args, std::string* out) {
  std::vector<std::string> argv = {kPython, kChecker};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_command(argv, dir + "/checker", 60s, out);
}

TEST(Metrics, BothEndpointsFollowPrometheusConventionsAndTheDashboardUsesOnlyTheirNames) {
  Bridge bridge("metrics_scrape", "[turn]\nend_of_turn_ms = 1500\n");
  bridge.start();
  test::Audio in = test::read_audio(test::librivox("0880", ".wav"));
  in.samples.resize(in.samples.size() + 16000 * 60, 0.0f);  // stays connected while we scrape
  ASSERT_TRUE(test::write_wav(bridge.dir + "/in.wav", in));
  const int node_port = test::free_port();
  auto node =
      bridge.node(0, {"--source", "file", "--file", bridge.dir + "/in.wav", "--sink", "none",
                      "--room", "kitchen", "--metrics-port", std::to_string(node_port)});
  // A whole turn: every latency histogram, the bridge's own latency included, has an observation.
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.metric("earshot_own_latency_seconds_count") >= 1; }, 90s))
      << bridge.process->stdout_text() << bridge.process->stderr_text();

  std::string bridge_page, node_page;
  ASSERT_EQ(
      test::http_get("http://127.0.0.1:" + std::to_string(bridge.port) + "/metrics", &bridge_page),
      200);
  ASSERT_EQ(
      test::http_get("http://127.0.0.1:" + std::to_string(node_port) + "/metrics", &node_page), 200)
      << node->stderr_text();
  std::ofstream(bridge.dir + "/bridge.prom") << bridge_page;
  std::ofstream(bridge.dir + "/node.prom") << node_page;

  std::string said;
  EXPECT_EQ(check(bridge.dir,
                  {"--bridge", bridge.dir + "/bridge.prom", "--node", bridge.dir + "/node.prom",
                   "--dashboard", kDashboard},
                  &said),
            0)
      << said << "\n"
      << test::read_file(bridge.dir + "/checker.err");
  std::cout << said;

  // What the scrapes say is what happened: one node in the kitchen, its turn, its frames.
  EXPECT_EQ(value_of(bridge_page, R"(earshot_client_connected{node="n0",room="kitchen"})"), 1);
  EXPECT_GE(value_of(bridge_page, R"(earshot_client_turns_total{node="n0",room="kitchen"})"), 1);
  EXPECT_GT(
      value_of(bridge_page, R"(earshot_client_frames_received_total{node="n0",room="kitchen"})"),
      0);
  EXPECT_GE(value_of(bridge_page, "earshot_first_frame_sent_seconds_count"), 1);
  EXPECT_EQ(value_of(bridge_page, R"(earshot_engine_up{engine="stt"})"), 1);
  EXPECT_EQ(value_of(bridge_page, R"(earshot_errors_total{reason="stt_failed"})"), 0);
  EXPECT_GT(value_of(bridge_page, "process_resident_memory_bytes"), 1e6);
  EXPECT_NE(bridge_page.find("earshot_build_info{version=\""), std::string::npos);
  EXPECT_GE(value_of(node_page, "earshot_node_speech_segments_total"), 1);
  EXPECT_GT(value_of(node_page, "earshot_node_frames_sent_total"), 0);
  EXPECT_GT(value_of(node_page, "earshot_node_frames_acked_total"), 0);
  EXPECT_EQ(value_of(node_page, "earshot_node_connected"), 1);
  EXPECT_GT(value_of(node_page, "process_resident_memory_bytes"), 1e5);

  // The node's endpoint serves /metrics only.
  std::string other;
  EXPECT_EQ(test::http_get("http://127.0.0.1:" + std::to_string(node_port) + "/status", &other),
            404);

  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(20s), 0) << node->stderr_text();
  // A node that left drops out of the bridge's per-client series.
  std::string after;
  ASSERT_TRUE(test::wait_until(
      [&] {
        after.clear();
        test::http_get("http://127.0.0.1:" + std::to_string(bridge.port) + "/metrics", &after);
        return after.find("earshot_client_connected{") == std::string::npos;
      },
      20s))
      << after;
  EXPECT_EQ(bridge.stop(), 0);
}

// The checker is a test that can fail: a page in milliseconds, a counter without _total, a gauge
// ending in _total, a family without HELP, and a page the parser refuses are all reported; a
// dashboard naming a metric no scrape has is too.
TEST(Metrics, TheConventionsCheckerRefusesWhatBreaksThem) {
  const std::string dir = test::scratch_dir("metrics_checker");
  std::ofstream(dir + "/bad.prom") << "# HELP earshot_reply_ms Reply time.\n"
                                      "# TYPE earshot_reply_ms histogram\n"
                                      "earshot_reply_ms_bucket{le=\"+Inf\"} 1\n"
                                      "earshot_reply_ms_sum 5\nearshot_reply_ms_count 1\n"
                                      "# HELP earshot_turns Turns.\n# TYPE earshot_turns counter\n"
                                      "earshot_turns 3\n"
                                      "# HELP earshot_up_total Up.\n# TYPE earshot_up_total gauge\n"
                                      "earshot_up_total 1\n"
                                      "# TYPE earshot_quiet gauge\nearshot_quiet 1\n";
  std::ofstream(dir + "/broken.prom") << "earshot_x{unclosed=\"1 2\n";
  std::ofstream(dir + "/board.json")
      << R"json({"panels":[{"targets":[{"expr":"rate(earshot_not_there_total[5m])"}]}]})json";
  std::string said;
  EXPECT_EQ(check(dir, {"--bridge", dir + "/bad.prom", "--dashboard", dir + "/board.json"}, &said),
            1);
  for (const char* problem :
       {"earshot_reply_ms is not in base units", "counter earshot_turns does not end in _total",
        "gauge earshot_up_total ends in _total", "earshot_quiet has no HELP text",
        "earshot_build_info must be one series", "process metric process_open_fds missing",
        "dashboard: earshot_not_there_total is in no scrape"})
    EXPECT_NE(said.find(problem), std::string::npos) << problem << "\n" << said;
  said.clear();
  EXPECT_EQ(check(dir, {"--node", dir + "/broken.prom"}, &said), 1);
  EXPECT_NE(said.find("the Prometheus parser refuses the page"), std::string::npos) << said;
}

}  // namespace
}  // namespace earshot
