#include "device/config_paths_check.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace earshot::device {
namespace {

// "" if `path` is a file this process can read.
std::string unreadable(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "cannot read '" + path + "': " + strerror(errno);
  if (S_ISDIR(st.st_mode)) return "'" + path + "' is a directory, not a file";
  if (access(path.c_str(), R_OK) != 0) return "cannot read '" + path + "': " + strerror(errno);
  return "";
}

// "" if `path` can be written: the file itself when it exists, else a new file in its directory.
std::string unwritable(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return "'" + path + "' is a directory, not a file";
    if (access(path.c_str(), W_OK) != 0) return "cannot write '" + path + "': " + strerror(errno);
    return "";
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  if (stat(dir.c_str(), &st) != 0)
    return "cannot create '" + path + "': directory '" + dir + "': " + strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "cannot create '" + path + "': '" + dir + "' is not a directory";
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    return "cannot create '" + path + "': directory '" + dir + "': " + strerror(errno);
  return "";
}

// "" if `path` is readable and holds at least one PEM certificate (what a pinned CA file is).
std::string not_ca_file(const std::string& path) {
  if (std::string why = unreadable(path); !why.empty()) return why;
  std::unique_ptr<FILE, int (*)(FILE*)> f(fopen(path.c_str(), "r"), fclose);
  if (!f) return "cannot read '" + path + "': " + strerror(errno);
  X509* cert = PEM_read_X509(f.get(), nullptr, nullptr, nullptr);
  ERR_clear_error();  // the reason is always "no start line": say it in our words
  if (!cert) return "'" + path + "' holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  X509_free(cert);
  return "";
}

}  // namespace

std::vector<std::string> check_config_paths(const NodeConfig& c) {
  std::vector<std::string> problems;
  auto add = [&](const char* setting, const std::string& why) {
    if (!why.empty()) problems.push_back(std::string(setting) + ": " + why);
  };
  if (!c.ca_file.empty()) add("host.ca_file", not_ca_file(c.ca_file));
  if (c.sink == "wav") add("playback.playback_file", unwritable(c.playback_file));
  if (!c.record.empty()) add("debug.record", unwritable(c.record));
  return problems;
}

}  // namespace earshot::device
