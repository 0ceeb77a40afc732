// The process metrics of prometheus_text.h, read from /proc/self (Linux). Not a wire format, but
// what both programs' metrics pages append, kept with the writer so the names are written once.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "protocol/prometheus/prometheus_text.h"

namespace earshot::protocol {

namespace {

std::string read_small_file(const char* path) {
  std::string text;
  if (FILE* f = fopen(path, "re")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
      text.append(buf, n);
    fclose(f);
  }
  return text;
}

// Seconds since the epoch at boot (/proc/stat's btime), or -1.
long long boot_time_s() {
  const std::string stat = read_small_file("/proc/stat");
  const size_t at = stat.find("\nbtime ");
  return at == std::string::npos ? -1 : atoll(stat.c_str() + at + 7);
}

}  // namespace

void append_process_metrics(PrometheusText* out) {
  using Type = PrometheusText::Type;
  // /proc/self/stat: the command name (field 2) may hold spaces and parentheses, so the fields
  // are counted from the last ')'. Then field 3 is the state; 14 utime, 15 stime, 22 starttime
  // (clock ticks), 23 vsize (bytes), 24 rss (pages).
  const std::string stat = read_small_file("/proc/self/stat");
  const size_t name_end = stat.rfind(')');
  if (name_end != std::string::npos) {
    unsigned long long field[25] = {};
    const char* p = stat.c_str() + name_end + 2;  // at field 3
    for (int i = 3; i <= 24 && *p; ++i) {
      if (i > 3) field[i] = strtoull(p, nullptr, 10);
      p = strchr(p, ' ');
      if (!p) break;
      ++p;
    }
    const double ticks = double(sysconf(_SC_CLK_TCK));
    const double page = double(sysconf(_SC_PAGESIZE));
    out->family("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
                Type::kCounter);
    out->sample("process_cpu_seconds_total", double(field[14] + field[15]) / ticks);
    out->gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
               double(field[24]) * page);
    out->gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", double(field[23]));
    const long long boot = boot_time_s();
    if (boot >= 0)
      out->gauge("process_start_time_seconds",
                 "Start time of the process since the Unix epoch, in seconds.",
                 double(boot) + double(field[22]) / ticks);
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    long open_fds = 0;
    while (const dirent* entry = readdir(dir))
      if (entry->d_name[0] != '.') ++open_fds;
    closedir(dir);
    out->gauge("process_open_fds", "Number of open file descriptors.", double(open_fds - 1));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    out->gauge("process_max_fds", "Maximum number of open file descriptors.",
               double(limit.rlim_cur));
}

}  // namespace earshot::protocol
