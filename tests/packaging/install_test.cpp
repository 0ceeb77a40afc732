// What `cmake --install` puts where (cmake/EarshotInstall.cmake): the real install of this build
// tree into a scratch prefix (the CTest fixture packaging.install, tests/packaging/CMakeLists.txt),
// compared file by file with the list below; the installed units name
// the installed programs, configs and documentation; the installed example configs are valid for
// the installed programs. And a build for installing only (-DBUILD_TESTING=OFF) configures with
// GoogleTest and Google Benchmark out of reach.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Every file a prefix install holds, relative to the prefix. A new installed file is added here,
// on purpose.
const std::set<std::string> kInstalled = {
    "bin/earshot-node",
    "bin/earshot-vad",
    "bin/earshot-standin-host",
    "bin/earshot-bridge",
    "etc/earshot/node.toml",
    "etc/earshot/bridge.toml",
    "lib/systemd/system/earshot-node.service",
    "lib/systemd/system/earshot-bridge.service",
    "share/doc/earshot-node/changelog.Debian.gz",
    "share/doc/earshot-node/copyright",
    "share/doc/earshot-node/configuration.md",
    "share/doc/earshot-node/deploy.md",
    "share/doc/earshot-node/protocol.md",
    "share/doc/earshot-node/vad.md",
    "share/doc/earshot-bridge/changelog.Debian.gz",
    "share/doc/earshot-bridge/copyright",
    "share/doc/earshot-bridge/bridge.md",
    "share/doc/earshot-bridge/configuration.md",
    "share/doc/earshot-bridge/engines.md",
    "share/doc/earshot-bridge/deploy.md",
    "share/doc/earshot-bridge/protocol.md",
    "share/doc/earshot-bridge/realtime.md",
    "share/doc/earshot-bridge/wyoming.md",
    "share/doc/earshot-bridge/xiaozhi.md",
};

// The value of `key=` on its own line of a unit file (the first one).
std::string unit_value(const std::string& unit, const std::string& key) {
  std::istringstream lines(unit);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

class InstallTree : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(prefix_ + "/bin/earshot-node"))
        << "no install in " << prefix_ << " (run by packaging.install)";
  }
  const std::string prefix_ = EARSHOT_INSTALL_PREFIX;
};

TEST_F(InstallTree, InstallsExactlyTheListedFiles) {
  std::set<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(prefix_))
    if (!entry.is_directory()) found.insert(fs::relative(entry.path(), prefix_).string());
  std::string listing;
  for (const std::string& f : found)
    listing += "  " + f + "\n";
  EXPECT_EQ(found, kInstalled) << "installed:\n" << listing;
}

TEST_F(InstallTree, ProgramsAreExecutableAndRun) {
  const std::string dir = test::scratch_dir("install_tree_programs");
  for (const char* program :
       {"earshot-node", "earshot-vad", "earshot-standin-host", "earshot-bridge"}) {
    const std::string path = prefix_ + "/bin/" + program;
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0755u) << path;
    EXPECT_EQ(test::run_command({path, "--help"}, dir + "/" + program, 30s), 0)
        << program << ": " << test::read_file(dir + "/" + program + ".err");
  }
}

TEST_F(InstallTree, UnitsNameTheInstalledProgramsConfigsAndDocs) {
  for (const std::string component : {"node", "bridge"}) {
    const std::string unit =
        test::read_file(prefix_ + "/lib/systemd/system/earshot-" + component + ".service");
    ASSERT_FALSE(unit.empty()) << component;
    EXPECT_EQ(unit.find("@EARSHOT_"), std::string::npos) << "a placeholder left in:\n" << unit;
    EXPECT_EQ(unit_value(unit, "ExecStart"), prefix_ + "/bin/earshot-" + component + " --config " +
                                                 prefix_ + "/etc/earshot/" + component + ".toml");
    // Every Documentation= entry is a file:// URL of an installed file.
    std::istringstream docs(unit_value(unit, "Documentation"));
    int count = 0;
    for (std::string url; docs >> url; ++count) {
      ASSERT_EQ(url.rfind("file://", 0), 0u) << url;
      EXPECT_TRUE(fs::exists(url.substr(7))) << url;
    }
    EXPECT_GE(count, 1) << component << " unit has no Documentation=";
  }
}

TEST_F(InstallTree, ConfigsPointIntoTheirOwnDirectory) {
  // The examples are written for /etc/earshot; installed elsewhere, their paths follow.
  const std::string node = test::read_file(prefix_ + "/etc/earshot/node.toml");
  EXPECT_NE(node.find("token_file = \"" + prefix_ + "/etc/earshot/node.token\""), std::string::npos)
      << node;
  EXPECT_EQ(node.find("\"/etc/earshot/"), std::string::npos) << node;
  const std::string bridge = test::read_file(prefix_ + "/etc/earshot/bridge.toml");
  EXPECT_NE(bridge.find("tls_cert = \"" + prefix_ + "/etc/earshot/bridge.crt\""), std::string::npos)
      << bridge;
}

TEST_F(InstallTree, InstalledConfigsAreValidForTheInstalledPrograms) {
  // --check exits 2 for a config that is wrong in itself, 1 for what it names that is missing
  // here (the certificate, the CA, the token file's bridge, the devices): 1 is the pass.
  const std::string dir = test::scratch_dir("install_tree_configs");
  const std::string token = dir + "/node.token";
  std::ofstream(token) << "example-token\n";
  EXPECT_EQ(
      test::run_command({prefix_ + "/bin/earshot-node", "--config",
                         prefix_ + "/etc/earshot/node.toml", "--token-file", token, "--check"},
                        dir + "/node-check", 60s),
      1)
      << test::read_file(dir + "/node-check.err");
  EXPECT_EQ(test::run_command({prefix_ + "/bin/earshot-bridge", "--config",
                               prefix_ + "/etc/earshot/bridge.toml", "--check"},
                              dir + "/bridge-check", 120s),
            1)
      << test::read_file(dir + "/bridge-check.err");
  EXPECT_NE(test::read_file(dir + "/bridge-check.err").find("bridge.crt"), std::string::npos)
      << test::read_file(dir + "/bridge-check.err");
}

TEST_F(InstallTree, UnitsPassSystemdAnalyzeVerify) {
  const std::string dir = test::scratch_dir("install_tree_verify");
  for (const std::string component : {"node", "bridge"}) {
    const std::string unit = prefix_ + "/lib/systemd/system/earshot-" + component + ".service";
    // A warning (an unknown key, a path that does not exist) is printed but exits 0: none wanted.
    EXPECT_EQ(test::run_command({"systemd-analyze", "verify", unit}, dir + "/" + component, 60s), 0)
        << test::read_file(dir + "/" + component + ".err");
    EXPECT_EQ(test::read_file(dir + "/" + component + ".err"), "") << unit;
  }
}

// What each unit must keep (docs/deploy.md, "Hardening"), and its overall exposure as
// `systemd-analyze security` scores it (0 safest, 10 none): 8.0 (node) and 8.5 (bridge) before.
TEST_F(InstallTree, UnitsAreHardened) {
  const std::string dir = test::scratch_dir("install_tree_security");
  const std::map<std::string, std::vector<std::string>> required = {
      {"node",
       {"Type=notify", "WatchdogSec=10", "UMask=0077", "RestartPreventExitStatus=2",
        "SupplementaryGroups=audio", "DevicePolicy=closed", "DeviceAllow=char-alsa rw",
        "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
        "RestrictNamespaces=yes", "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"}},
      {"bridge",
       {"Type=notify", "WatchdogSec=20", "UMask=0077", "RestartPreventExitStatus=2",
        "PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes", "RestrictNamespaces=yes", "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"}},
  };
  std::string report;
  for (const auto& [component, lines] : required) {
    const std::string unit_path = prefix_ + "/lib/systemd/system/earshot-" + component + ".service";
    const std::string unit = "\n" + test::read_file(unit_path);
    for (const std::string& line : lines)
      EXPECT_NE(unit.find("\n" + line + "\n"), std::string::npos) << component << ": " << line;
    std::string out;
    ASSERT_EQ(test::run_command({"systemd-analyze", "security", "--offline=yes", unit_path},
                                dir + "/" + component, 60s, &out),
              0)
        << test::read_file(dir + "/" + component + ".err");
    report += out;
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(out, m, std::regex(R"(Overall exposure level for \S+: ([0-9.]+))")))
        << out;
    EXPECT_LE(std::strtod(m[1].str().c_str(), nullptr), 2.0) << component << "\n" << out;
  }
  std::ofstream(std::string(EARSHOT_BINARY_DIR) + "/packaging/security.txt") << report;
}

// Exit 2 is a config that is wrong in itself; the units' RestartPreventExitStatus=2 relies on it.
TEST_F(InstallTree, ABadConfigExitsTwo) {
  const std::string dir = test::scratch_dir("install_tree_bad_config");
  std::ofstream(dir + "/bad.toml") << "[node]\nno_such_key = 1\n[server]\nno_such_key = 1\n";
  for (const std::string program : {"earshot-node", "earshot-bridge"})
    EXPECT_EQ(test::run_command({prefix_ + "/bin/" + program, "--config", dir + "/bad.toml"},
                                dir + "/" + program, 60s),
              2)
        << program << ": " << test::read_file(dir + "/" + program + ".err");
}

// A build for installing only: configures with GoogleTest and Google Benchmark hidden from CMake
// (as on a machine without libgtest-dev and libbenchmark-dev).
TEST(BuildForInstall, ConfiguresWithoutGoogleTestOrBenchmark) {
  const std::string dir = test::scratch_dir("build_for_install");
  const int rc = test::run_command(
      {EARSHOT_CMAKE_COMMAND, "-S", EARSHOT_SOURCE_DIR, "-B", dir + "/build", "-G", "Ninja",
       "-DBUILD_TESTING=OFF", "-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON",
       "-DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON"},
      dir + "/configure", 120s);
  ASSERT_EQ(rc, 0) << test::read_file(dir + "/configure.out")
                   << test::read_file(dir + "/configure.err");
  // Nothing of the tests is left in the build: no test support library, no test executable.
  const std::string ninja = test::read_file(dir + "/build/build.ninja");
  EXPECT_EQ(ninja.find("earshot_test_support"), std::string::npos);
  EXPECT_EQ(ninja.find("gtest"), std::string::npos);
  EXPECT_NE(ninja.find("earshot-node"), std::string::npos);
  EXPECT_NE(ninja.find("earshot-bridge"), std::string::npos);
}

// A node's board builds the node alone (-DEARSHOT_BRIDGE=OFF, `tools/install-deps.sh --node`):
// configured with pkg-config seeing every library here but the bridge's own, it configures; the
// bridge, with the same libraries out of sight, does not (so they really were).
TEST(BuildForInstall, TheNodeConfiguresWithoutTheBridgesLibraries) {
  const std::string dir = test::scratch_dir("build_node_only");
  const std::set<std::string> bridge_only = {"pocketsphinx.pc", "sphinxbase.pc", "espeak-ng.pc",
                                             "libcurl.pc", "sqlite3.pc"};
  const std::string pc_dir = dir + "/pkgconfig";
  fs::create_directories(pc_dir);
  std::string pc_path;
  ASSERT_EQ(test::run_command({"pkg-config", "--variable", "pc_path", "pkg-config"},
                              dir + "/pc_path", 10s, &pc_path),
            0);
  std::istringstream dirs(pc_path.substr(0, pc_path.find('\n')));
  for (std::string system_dir; std::getline(dirs, system_dir, ':');) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(system_dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (bridge_only.count(name) || fs::exists(pc_dir + "/" + name)) continue;
      fs::create_symlink(entry.path(), pc_dir + "/" + name);
    }
  }
  const std::map<std::string, std::string> env = {{"PKG_CONFIG_LIBDIR", pc_dir}};
  auto configure = [&](const std::string& name, bool bridge) {
    test::Subprocess cmake(
        {EARSHOT_CMAKE_COMMAND, "-S", EARSHOT_SOURCE_DIR, "-B", dir + "/" + name, "-G", "Ninja",
         "-DBUILD_TESTING=OFF", "-DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON",
         std::string("-DEARSHOT_BRIDGE=") + (bridge ? "ON" : "OFF")},
        dir + "/" + name, env);
    return cmake.wait(120s);
  };
  ASSERT_EQ(configure("node", false), 0)
      << test::read_file(dir + "/node.out") << test::read_file(dir + "/node.err");
  const std::string ninja = test::read_file(dir + "/node/build.ninja");
  EXPECT_NE(ninja.find("earshot-node"), std::string::npos);
  EXPECT_NE(ninja.find("earshot-vad"), std::string::npos);
  EXPECT_EQ(ninja.find("earshot-bridge"), std::string::npos);
  EXPECT_EQ(ninja.find("pocketsphinx"), std::string::npos);
  // Its package would hold the node alone.
  const std::string cpack = test::read_file(dir + "/node/CPackConfig.cmake");
  EXPECT_NE(cpack.find("set(CPACK_COMPONENTS_ALL \"node\")"), std::string::npos);
  EXPECT_NE(configure("bridge", true), 0) << "the bridge's libraries were not hidden";
  const std::string bridge_log =
      test::read_file(dir + "/bridge.out") + test::read_file(dir + "/bridge.err");
  EXPECT_NE(bridge_log.find("Package 'libcurl', required by 'virtual:world', not found"),
            std::string::npos)
      << bridge_log;
}

}  // namespace
}  // namespace earshot
