// PrometheusText (protocol/prometheus/prometheus_text.h): HELP/TYPE lines, label escaping as the
// text format 0.0.4 asks, numbers that read back exactly, and the process metrics from /proc.
#include "protocol/prometheus/prometheus_text.h"

#include <gtest/gtest.h>

#include <limits>

namespace earshot::protocol {
namespace {

TEST(PrometheusText, FamiliesSamplesAndEscaping) {
  PrometheusText out;
  out.family("earshot_errors_total", "Failures, by \\reason.\nSecond line.",
             PrometheusText::Type::kCounter);
  out.sample("earshot_errors_total", uint64_t(3), {{"reason", "a \"quoted\" \\ path\nline"}});
  out.gauge("earshot_up", "Up.", 0.005);
  out.sample("earshot_x", std::numeric_limits<double>::infinity());
  out.sample("earshot_y", 0.1 + 0.2);  // not exactly 0.3: written with the digits to say so
  EXPECT_EQ(out.text(),
            "# HELP earshot_errors_total Failures, by \\\\reason.\\nSecond line.\n"
            "# TYPE earshot_errors_total counter\n"
            "earshot_errors_total{reason=\"a \\\"quoted\\\" \\\\ path\\nline\"} 3\n"
            "# HELP earshot_up Up.\n# TYPE earshot_up gauge\nearshot_up 0.005\n"
            "earshot_x +Inf\n"
            "earshot_y 0.30000000000000004\n");
}

TEST(PrometheusText, ProcessMetricsComeFromProc) {
  PrometheusText out;
  append_process_metrics(&out);
  const std::string& text = out.text();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_virtual_memory_bytes ", "process_start_time_seconds ",
                           "process_open_fds ", "process_max_fds "})
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name << "\n" << text;
  const size_t at = text.find("\nprocess_resident_memory_bytes ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stod(text.substr(at + 31)), 100000.0);  // this test's own RSS
  const size_t start = text.find("\nprocess_start_time_seconds ");
  ASSERT_NE(start, std::string::npos);
  EXPECT_GT(std::stod(text.substr(start + 28)), 1.6e9);  // after 2020: a real epoch time
}

}  // namespace
}  // namespace earshot::protocol
