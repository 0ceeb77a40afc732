#include "protocol/prometheus/prometheus_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace earshot::protocol {

namespace {

const char* type_name(PrometheusText::Type type) {
  switch (type) {
    case PrometheusText::Type::kCounter:
      return "counter";
    case PrometheusText::Type::kGauge:
      return "gauge";
    case PrometheusText::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string* out, const std::string& text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (quote && c == '"') {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

}  // namespace

void PrometheusText::family(const char* name, const char* help, Type type) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  append_escaped(&text_, help, false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type_name(type);
  text_ += '\n';
}

void PrometheusText::name_and_labels(const char* name, PrometheusLabels labels) {
  text_ += name;
  if (labels.size() == 0) return;
  text_ += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) text_ += ',';
    first = false;
    text_ += key;
    text_ += "=\"";
    append_escaped(&text_, value, true);
    text_ += '"';
  }
  text_ += '}';
}

void PrometheusText::sample(const char* name, double value, PrometheusLabels labels) {
  name_and_labels(name, labels);
  char number[64];
  if (std::isinf(value)) {
    snprintf(number, sizeof number, " %s\n", value > 0 ? "+Inf" : "-Inf");
  } else if (std::isnan(value)) {
    snprintf(number, sizeof number, " NaN\n");
  } else {  // the shortest form that reads back as the same double ("0.005", not 17 digits)
    snprintf(number, sizeof number, " %.15g\n", value);
    if (strtod(number, nullptr) != value) snprintf(number, sizeof number, " %.17g\n", value);
  }
  text_ += number;
}

void PrometheusText::sample(const char* name, uint64_t value, PrometheusLabels labels) {
  name_and_labels(name, labels);
  text_ += ' ';
  text_ += std::to_string(value);
  text_ += '\n';
}

void PrometheusText::counter(const char* name, const char* help, uint64_t value) {
  family(name, help, Type::kCounter);
  sample(name, value);
}

void PrometheusText::gauge(const char* name, const char* help, double value) {
  family(name, help, Type::kGauge);
  sample(name, value);
}

}  // namespace earshot::protocol
