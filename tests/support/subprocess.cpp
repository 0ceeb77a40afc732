#include "tests/support/subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace earshot::test {

namespace {

// A cross build's programs (built for the machine this test is built for) run under the emulator
// CMake runs the tests with (CMAKE_CROSSCOMPILING_EMULATOR, e.g. qemu-aarch64): without binfmt_misc
// the kernel cannot exec them itself. The build machine's own programs (Debian's sox, opusdec,
// dpkg-deb...) run as they are.
std::vector<std::string> with_emulator(std::vector<std::string> argv) {
#ifdef EARSHOT_TEST_EMULATOR
  // Under qemu-user, /proc/self/exe is this (emulated) test program.
  static const int own_machine = elf_machine("/proc/self/exe");
  if (!argv.empty() && argv[0].find('/') != std::string::npos &&
      elf_machine(argv[0]) == own_machine) {
    std::vector<std::string> emulated;
    std::stringstream emulator(EARSHOT_TEST_EMULATOR);  // the program, then its arguments
    for (std::string part; emulator >> part;)
      emulated.push_back(part);
    emulated.insert(emulated.end(), argv.begin(), argv.end());
    return emulated;
  }
#endif
  return argv;
}

}  // namespace

int elf_machine(const std::string& path) {
  unsigned char header[20] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return -1;
  if (header[0] != 0x7f || header[1] != 'E' || header[2] != 'L' || header[3] != 'F') return -1;
  return header[18] | header[19] << 8;  // little-endian, as on every machine we build for
}

Subprocess::Subprocess(std::vector<std::string> argv, std::string log_prefix,
                       std::map<std::string, std::string> env, std::string stdin_file)
    : log_prefix_(std::move(log_prefix)) {
  argv = with_emulator(std::move(argv));
  std::string out = log_prefix_ + ".out", err = log_prefix_ + ".err";
  pid_ = fork();
  if (pid_ == 0) {
    for (auto& [k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    int in = open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in >= 0) dup2(in, 0);
    if (o >= 0) dup2(o, 1);
    if (e >= 0) dup2(e, 2);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && status_ < 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool Subprocess::running() {
  if (status_ >= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

void Subprocess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

int Subprocess::wait(std::chrono::milliseconds timeout) {
  wait_until([this] { return !running(); }, timeout);
  return status_;
}

std::string Subprocess::stdout_text() const {
  return read_file(log_prefix_ + ".out");
}
std::string Subprocess::stderr_text() const {
  return read_file(log_prefix_ + ".err");
}

int run_command(const std::vector<std::string>& argv, const std::string& log_prefix,
                std::chrono::milliseconds timeout, std::string* out) {
  Subprocess p(argv, log_prefix);
  int rc = p.wait(timeout);
  if (out) *out = p.stdout_text();
  return rc;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string non_loopback_address() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* a = list; a && found.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK))
      continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    found = text;
  }
  freeifaddrs(list);
  return found;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace earshot::test
