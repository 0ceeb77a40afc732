#include "device/node_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace earshot::device {
namespace {

constexpr const char* kTokenFile = "token";
constexpr const char* kFingerprintFile = "bridge.fingerprint";

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  return line;
}

std::string make_dir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return "";
  return "cannot create the state directory " + dir + ": " + strerror(errno);
}

// Writes `text` to dir/name, mode 0600, atomically.
std::string write_private(const std::string& dir, const char* name, const std::string& text) {
  const std::string path = dir + "/" + name, temporary = path + ".new";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + temporary + ": " + strerror(errno);
  const std::string line = text + "\n";
  const bool ok = fchmod(fd, 0600) == 0 &&
                  write(fd, line.data(), line.size()) == ssize_t(line.size()) && fsync(fd) == 0;
  const int saved = errno;
  close(fd);
  if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string why = strerror(ok ? errno : saved);
    unlink(temporary.c_str());
    return "cannot write " + path + ": " + why;
  }
  return "";
}

}  // namespace

NodeState load_node_state(const std::string& dir) {
  NodeState s;
  if (dir.empty()) return s;
  s.token = first_line(dir + "/" + kTokenFile);
  s.fingerprint = first_line(dir + "/" + kFingerprintFile);
  return s;
}

std::string save_node_state(const std::string& dir, const NodeState& state) {
  if (std::string problem = make_dir(dir); !problem.empty()) return problem;
  if (!state.fingerprint.empty())
    if (std::string problem = write_private(dir, kFingerprintFile, state.fingerprint);
        !problem.empty())
      return problem;
  return write_private(dir, kTokenFile, state.token);
}

std::string forget_node_state(const std::string& dir) {
  for (const char* name : {kTokenFile, kFingerprintFile}) {
    const std::string path = dir + "/" + name;
    if (unlink(path.c_str()) != 0 && errno != ENOENT)
      return "cannot remove " + path + ": " + strerror(errno);
  }
  return "";
}

std::string check_state_dir(const std::string& dir) {
  if (dir.empty()) return "host.state_dir is empty: a paired node keeps its token there";
  if (std::string problem = make_dir(dir); !problem.empty()) return problem;
  if (access(dir.c_str(), W_OK) != 0)
    return "cannot write in the state directory " + dir + ": " + strerror(errno);
  return "";
}

}  // namespace earshot::device
