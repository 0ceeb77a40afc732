// The Debian packages (cmake/EarshotPackage.cmake), made from this build tree by the real cpack
// (the CTest fixture packaging.make_debs, tests/packaging/CMakeLists.txt), read back with dpkg-deb,
// unpacked with `dpkg -x` into a scratch root, and checked by lintian:
//   - each package holds exactly its listed files: programs, unit, config, documentation;
//   - the config is a conffile; the maintainer scripts make the user, the state directory and the
//     config's stat override; Depends has the shared libraries' packages and adduser;
//   - they are for the build's machine (arm64 in a cross build), and so are their programs;
//   - the unpacked programs run; the units name /usr/bin, /etc/earshot and an installed document;
//   - lintian reports no error, and every tag it does report is explained in docs/deploy.md.
// lintian's whole output is kept in <build>/packaging/lintian.txt; the units' systemd-analyze
// security exposure in <build>/packaging/security.txt.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Package {
  std::string name;
  std::set<std::string> files;       // every file it installs
  std::set<std::string> programs;    // in /usr/bin, run with --help
  std::string conffile;              // its one conffile
  std::vector<std::string> depends;  // packages its Depends must name
};

const std::vector<Package> kPackages = {
    {"earshot-node",
     {"/etc/earshot/node.toml", "/lib/systemd/system/earshot-node.service", "/usr/bin/earshot-node",
      "/usr/bin/earshot-standin-host", "/usr/bin/earshot-vad",
      "/usr/share/doc/earshot-node/changelog.Debian.gz", "/usr/share/doc/earshot-node/copyright",
      "/usr/share/doc/earshot-node/configuration.md", "/usr/share/doc/earshot-node/deploy.md",
      "/usr/share/doc/earshot-node/protocol.md", "/usr/share/doc/earshot-node/vad.md"},
     {"earshot-node", "earshot-standin-host", "earshot-vad"},
     "/etc/earshot/node.toml",
     {"adduser", "libc6", "libasound2"}},
    {"earshot-bridge",
     {"/etc/earshot/bridge.toml", "/lib/systemd/system/earshot-bridge.service",
      "/usr/bin/earshot-bridge", "/usr/share/doc/earshot-bridge/changelog.Debian.gz",
      "/usr/share/doc/earshot-bridge/copyright", "/usr/share/doc/earshot-bridge/bridge.md",
      "/usr/share/doc/earshot-bridge/configuration.md", "/usr/share/doc/earshot-bridge/engines.md",
      "/usr/share/doc/earshot-bridge/deploy.md", "/usr/share/doc/earshot-bridge/protocol.md",
      "/usr/share/doc/earshot-bridge/realtime.md", "/usr/share/doc/earshot-bridge/wyoming.md",
      "/usr/share/doc/earshot-bridge/xiaozhi.md"},
     {"earshot-bridge"},
     "/etc/earshot/bridge.toml",
     {"adduser", "libc6", "pocketsphinx-en-us", "libpocketsphinx3", "libsqlite3-0", "libcurl4"}},
};

// The value of `key=` on its own line of a unit file (the first one).
std::string unit_value(const std::string& unit, const std::string& key) {
  std::istringstream lines(unit);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

// The package names in a Depends field ("a (>= 1), b | c" gives a, b, c).
std::set<std::string> depends_names(const std::string& field) {
  std::set<std::string> names;
  static const std::regex name(R"((?:^|[,|])\s*([a-z0-9][a-z0-9+.-]+))");
  for (std::sregex_iterator it(field.begin(), field.end(), name), end; it != end; ++it)
    names.insert((*it)[1]);
  return names;
}

class DebianPackages : public ::testing::Test {
 protected:
  // Each test unpacks the packages into a scratch directory of its own (ctest runs them in
  // separate processes, possibly at once).
  void SetUp() override {
    dir_ = test::scratch_dir(std::string("debian_packages_") +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(fs::is_directory(EARSHOT_DEBS_DIR)) << "made by packaging.make_debs";
    for (const auto& entry : fs::directory_iterator(EARSHOT_DEBS_DIR))
      if (entry.path().extension() == ".deb") {
        const std::string file = entry.path().filename().string();
        debs_[file.substr(0, file.find('_'))] = entry.path().string();
      }
    for (const Package& p : kPackages) {
      ASSERT_TRUE(debs_.count(p.name)) << p.name << " not in " << EARSHOT_DEBS_DIR;
      ASSERT_EQ(
          test::run_command({"dpkg", "-x", debs_[p.name], root(p)}, dir_ + "/x-" + p.name, 60s), 0)
          << test::read_file(dir_ + "/x-" + p.name + ".err");
      ASSERT_EQ(test::run_command({"dpkg-deb", "--control", debs_[p.name], control(p)},
                                  dir_ + "/e-" + p.name, 60s),
                0)
          << test::read_file(dir_ + "/e-" + p.name + ".err");
    }
  }
  std::string root(const Package& p) const { return dir_ + "/root-" + p.name; }
  std::string control(const Package& p) const { return dir_ + "/control-" + p.name; }
  std::string dir_;
  std::map<std::string, std::string> debs_;
};

TEST_F(DebianPackages, EachHoldsExactlyItsFiles) {
  for (const Package& p : kPackages) {
    std::set<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(root(p)))
      if (!entry.is_directory()) found.insert("/" + fs::relative(entry.path(), root(p)).string());
    EXPECT_EQ(found, p.files) << p.name;
  }
}

TEST_F(DebianPackages, ProgramsRunFromTheUnpackedTree) {
  for (const Package& p : kPackages)
    for (const std::string& program : p.programs) {
      const std::string path = root(p) + "/usr/bin/" + program;
      struct stat st {};
      ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
      EXPECT_EQ(st.st_mode & 0777, 0755u) << path;
      EXPECT_EQ(test::run_command({path, "--help"}, dir_ + "/help-" + program, 30s), 0)
          << path << ": " << test::read_file(dir_ + "/help-" + program + ".err");
    }
}

// The packages are for the machine the build is for: arm64 from a cross build
// (cmake/toolchain-aarch64-linux-gnu.cmake), the build machine's otherwise; so are their programs,
// which are ELF files for the same machine as this test (run under qemu-user in a cross build).
TEST_F(DebianPackages, AreForTheMachineTheBuildIsFor) {
  const int own_machine = test::elf_machine("/proc/self/exe");
  ASSERT_GT(own_machine, 0);
  for (const Package& p : kPackages) {
    std::string architecture;
    ASSERT_EQ(test::run_command({"dpkg-deb", "--field", debs_[p.name], "Architecture"},
                                dir_ + "/architecture-" + p.name, 30s, &architecture),
              0);
    EXPECT_EQ(architecture, std::string(EARSHOT_DEB_ARCHITECTURE) + "\n") << p.name;
    EXPECT_NE(debs_[p.name].find(std::string("_") + EARSHOT_DEB_ARCHITECTURE + ".deb"),
              std::string::npos)
        << debs_[p.name];
    for (const std::string& program : p.programs)
      EXPECT_EQ(test::elf_machine(root(p) + "/usr/bin/" + program), own_machine) << program;
  }
}

TEST_F(DebianPackages, ConfigIsAConffile) {
  for (const Package& p : kPackages) {
    EXPECT_EQ(test::read_file(control(p) + "/conffiles"), p.conffile + "\n") << p.name;
    EXPECT_TRUE(fs::exists(root(p) + p.conffile)) << p.name;
  }
}

TEST_F(DebianPackages, UnitsNameTheInstalledPaths) {
  for (const Package& p : kPackages) {
    const std::string unit =
        test::read_file(root(p) + "/lib/systemd/system/" + p.name + ".service");
    ASSERT_FALSE(unit.empty()) << p.name;
    EXPECT_EQ(unit_value(unit, "ExecStart"), "/usr/bin/" + p.name + " --config " + p.conffile);
    std::istringstream docs(unit_value(unit, "Documentation"));
    int count = 0;
    for (std::string url; docs >> url; ++count) {
      ASSERT_EQ(url.rfind("file:///usr/share/doc/" + p.name + "/", 0), 0u) << url;
      EXPECT_TRUE(fs::exists(root(p) + url.substr(7))) << url << " is not in " << p.name;
    }
    EXPECT_GE(count, 1) << p.name << ": no Documentation=";
  }
}

TEST_F(DebianPackages, MaintainerScriptsMakeTheUserStateAndStatOverride) {
  for (const Package& p : kPackages) {
    const std::string postinst = test::read_file(control(p) + "/postinst");
    EXPECT_NE(postinst.find("adduser --system --group"), std::string::npos) << postinst;
    EXPECT_NE(postinst.find("install -d -o earshot -g earshot -m 0750 /var/lib/earshot"),
              std::string::npos);
    EXPECT_NE(postinst.find("dpkg-statoverride --update --add root earshot 0640 " + p.conffile),
              std::string::npos);
    EXPECT_EQ(postinst.find("@EARSHOT_"), std::string::npos) << "a placeholder left in:\n"
                                                             << postinst;
    for (const char* script : {"postinst", "prerm", "postrm"}) {
      struct stat st {};
      ASSERT_EQ(stat((control(p) + "/" + script).c_str(), &st), 0) << p.name << " " << script;
      EXPECT_EQ(st.st_mode & 0777, 0755u) << p.name << " " << script;
      // Each script parses as a POSIX shell script.
      EXPECT_EQ(test::run_command({"sh", "-n", control(p) + "/" + script},
                                  dir_ + "/sh-" + p.name + "-" + script, 10s),
                0)
          << p.name << " " << script;
    }
  }
}

TEST_F(DebianPackages, DependsComeFromTheSharedLibraries) {
  for (const Package& p : kPackages) {
    std::string fields;
    ASSERT_EQ(test::run_command({"dpkg-deb", "--field", debs_[p.name], "Depends"},
                                dir_ + "/depends-" + p.name, 30s, &fields),
              0);
    const std::set<std::string> names = depends_names(fields);
    for (const std::string& want : p.depends)
      EXPECT_TRUE(names.count(want)) << p.name << " Depends: " << fields << " lacks " << want;
  }
}

// What no shared library tells dpkg-shlibdeps: the node loads libopusenc only for --record
// (dlopen), and arecord finds the microphone.
TEST_F(DebianPackages, NodeRecommendsAndSuggestsWhatItLoadsOrDocuments) {
  const Package& node = kPackages.at(0);
  std::string recommends, suggests;
  ASSERT_EQ(test::run_command({"dpkg-deb", "--field", debs_[node.name], "Recommends"},
                              dir_ + "/recommends", 30s, &recommends),
            0);
  ASSERT_EQ(test::run_command({"dpkg-deb", "--field", debs_[node.name], "Suggests"},
                              dir_ + "/suggests", 30s, &suggests),
            0);
  EXPECT_TRUE(depends_names(recommends).count("alsa-utils")) << recommends;
  EXPECT_TRUE(depends_names(suggests).count("libopusenc0")) << suggests;
}

TEST_F(DebianPackages, LintianFindsNoErrorAndEachTagIsExplained) {
  const std::string report = std::string(EARSHOT_BINARY_DIR) + "/packaging/lintian.txt";
  std::vector<std::string> argv = {"lintian", "--tag-display-limit", "0", "--display-info"};
  for (const Package& p : kPackages)
    argv.push_back(debs_[p.name]);
  std::string output;
  const int rc = test::run_command(argv, dir_ + "/lintian", 300s, &output);
  std::ofstream(report) << output << test::read_file(dir_ + "/lintian.err");
  // lintian exits 0, or 2 when it reports any error-level tag; anything else is lintian failing.
  ASSERT_TRUE(rc == 0 || rc == 2) << "lintian exited " << rc << ":\n"
                                  << test::read_file(dir_ + "/lintian.err");
  const std::string explained =
      test::read_file(std::string(EARSHOT_SOURCE_DIR) + "/docs/deploy.md");
  std::istringstream lines(output);
  static const std::regex tag_line(R"(^([EWIXPO]): ([a-z0-9+.-]+)(?: \w+)?: ([a-z0-9.+-]+))");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, tag_line)) continue;
    EXPECT_NE(m[1], "E") << "lintian error: " << line;
    EXPECT_NE(explained.find("`" + m[3].str() + "`"), std::string::npos)
        << "not explained in docs/deploy.md: " << line;
  }
  EXPECT_EQ(rc, 0) << output;
}

}  // namespace
}  // namespace earshot
