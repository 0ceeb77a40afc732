// PrometheusText: writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for the bridge's /metrics and
// the node's metrics endpoint. Pure formatting: no sockets, no clocks.
//
// Every family opens with its HELP and TYPE lines (family()), then its samples (sample()), which
// must follow their family. Names follow Prometheus' conventions, and the callers keep them:
// base units in the name (`_seconds`, `_bytes`), `_total` on counters, `_info` gauges of 1 for
// build facts. Label values are escaped here (backslash, double quote, newline).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

namespace earshot::protocol {

using PrometheusLabels = std::initializer_list<std::pair<const char*, std::string>>;

class PrometheusText {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  void family(const char* name, const char* help, Type type);
  void sample(const char* name, double value, PrometheusLabels labels = {});
  void sample(const char* name, uint64_t value, PrometheusLabels labels = {});
  // A whole family with one unlabelled sample.
  void counter(const char* name, const char* help, uint64_t value);
  void gauge(const char* name, const char* help, double value);

  const std::string& text() const { return text_; }
  std::string take() { return std::move(text_); }

 private:
  void name_and_labels(const char* name, PrometheusLabels labels);
  std::string text_;
};

// The process' own standard metrics, as Prometheus' client libraries name them
// (process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
// process_start_time_seconds, process_open_fds, process_max_fds), read from /proc/self.
// A figure /proc does not give is left out.
void append_process_metrics(PrometheusText* out);

}  // namespace earshot::protocol
