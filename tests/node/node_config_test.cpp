// The node's config: TOML file, flags over it, validation, and clear errors for bad input.
#include "device/node_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_audio.h"

namespace earshot::device {
namespace {

ConfigResult load(std::vector<std::string> args, NodeConfig* config) {
  std::vector<const char*> argv{"earshot-node"};
  for (auto& a : args)
    argv.push_back(a.c_str());
  return load_config(int(argv.size()), argv.data(), config);
}

TEST(NodeConfig, TomlFillsEverySectionAndKeepsDefaultsForTheRest) {
  NodeConfig c;
  ConfigResult r = parse_config_toml(R"(
[node]
node_id = "kitchen-1"
room = "kitchen"
mode = "ambient"
[host]
url = "wss://bridge.local:8765/"
tls_insecure = true
[capture]
source = "file"
file = "/tmp/x.wav"
sample_rate = 44100
[vad]
vad_threshold = 0.6
)",
                                     "node.toml", &c);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(c.node_id, "kitchen-1");
  EXPECT_EQ(c.room, "kitchen");
  EXPECT_EQ(c.protocol_mode(), protocol::Mode::kAmbient);
  EXPECT_EQ(c.url, "wss://bridge.local:8765/");
  EXPECT_TRUE(c.tls_insecure);
  EXPECT_EQ(c.source, "file");
  EXPECT_EQ(c.sample_rate, 44100);
  EXPECT_DOUBLE_EQ(c.vad_threshold, 0.6);
  EXPECT_EQ(c.hangover_ms, NodeConfig{}.hangover_ms);
  EXPECT_EQ(validate(c), "");
}

TEST(NodeConfig, ErrorsNameTheFileLineAndKey) {
  NodeConfig c;
  ConfigResult r = parse_config_toml("[capture]\nsample_rate = \"fast\"\n", "node.toml", &c);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("node.toml:2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("capture.sample_rate"), std::string::npos) << r.error;

  r = parse_config_toml("[capture]\nsampel_rate = 16000\n", "node.toml", &c);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("unknown setting capture.sampel_rate"), std::string::npos) << r.error;

  r = parse_config_toml("[capture\n", "node.toml", &c);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("node.toml:1"), std::string::npos) << r.error;

  r = parse_config_toml("url = \"ws://x/\"\n", "node.toml", &c);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("[section]"), std::string::npos) << r.error;
}

// Room names in any script are fine inside strings; a stray non-ASCII character where TOML expects
// a key is a clear error, not a crash (Debian's toml++ 3.3.0 reaches a "can't happen" branch on
// some of them there: see earshot_tomlpp_sources in CMakeLists.txt).
TEST(NodeConfig, NonAsciiTextIsFineInStringsAndAClearErrorElsewhere) {
  NodeConfig c;
  ConfigResult r = parse_config_toml(
      "[node]\nroom = \"K\xc3\xbc"
      "che\"\n",
      "node.toml", &c);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(c.room,
            "K\xc3\xbc"
            "che");
  r = parse_config_toml("[node]\nroom = \"\xd0\x93\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8\"\n",
                        "node.toml", &c);
  ASSERT_TRUE(r.ok) << r.error;
  for (const char* bad : {"\xc2\xa7", "[node]\n\xd0\x93 = 2\n", "\xcc\xaa"}) {
    NodeConfig d;
    r = parse_config_toml(bad, "node.toml", &d);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("node.toml:"), std::string::npos) << r.error;
  }
  // After a line-ending backslash in a multi-line string: the same branch, inside a string.
  r = parse_config_toml("[node]\nroom = \"\"\"\\\n\xc2\xa7\"\"\"\n", "node.toml", &c);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(c.room, "\xc2\xa7");
}

TEST(NodeConfig, FlagsOverrideTheFile) {
  std::string dir = test::scratch_dir("node_config_flags");
  std::string path = dir + "/node.toml";
  std::ofstream(path)
      << "[node]\nnode_id = \"from-file\"\nroom = \"hall\"\n[capture]\nchannels = 2\n";
  NodeConfig c;
  ConfigResult r =
      load({"--config", path, "--node-id", "from-flag", "--pace", "--channels", "1"}, &c);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(c.node_id, "from-flag");
  EXPECT_EQ(c.room, "hall");  // not overridden
  EXPECT_EQ(c.channels, 1);
  EXPECT_TRUE(c.pace);
  EXPECT_FALSE(r.check);
}

TEST(NodeConfig, TokenFileIsRead) {
  std::string dir = test::scratch_dir("node_config_token");
  std::ofstream(dir + "/token") << "s3cret\n";
  NodeConfig c;
  ConfigResult r = load({"--token-file", dir + "/token", "--check"}, &c);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(c.token, "s3cret");
  EXPECT_TRUE(r.check);
  r = load({"--token-file", dir + "/missing"}, &c);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("token file"), std::string::npos);
}

TEST(NodeConfig, MissingConfigFileAndBadFlagsAreClearErrors) {
  NodeConfig c;
  ConfigResult r = load({"--config", "/nonexistent/node.toml"}, &c);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("/nonexistent/node.toml"), std::string::npos);
  r = load({"--no-such-flag"}, &c);
  EXPECT_FALSE(r.ok);
  r = load({"--sample-rate", "abc"}, &c);
  EXPECT_FALSE(r.ok);
}

TEST(NodeConfig, ValidationRejectsWhatCannotWork) {
  NodeConfig c;
  EXPECT_EQ(validate(c), "");
  c.sample_rate = 4000;
  EXPECT_NE(validate(c).find("4000 Hz is not supported"), std::string::npos);
  c = NodeConfig{};
  c.url = "http://x/";
  EXPECT_NE(validate(c).find("host.url"), std::string::npos);
  c = NodeConfig{};
  c.node_id = "has space";
  EXPECT_NE(validate(c).find("node.node_id"), std::string::npos);
  c = NodeConfig{};
  c.source = "file";
  EXPECT_NE(validate(c).find("capture.file"), std::string::npos);
  c = NodeConfig{};
  c.mode = "party";
  EXPECT_NE(validate(c).find("node.mode"), std::string::npos);
}

TEST(NodeConfig, OptionTableDocumentsEveryKey) {
  std::string table = describe_options_markdown();
  for (const char* key : {"node_id", "url", "sample_rate", "vad_threshold", "record", "sink"})
    EXPECT_NE(table.find(std::string("`") + key + "`"), std::string::npos) << key;
}

// docs/configuration.md carries the generated table; a new or changed option must reach it.
TEST(NodeConfig, DocsCarryTheGeneratedTable) {
  std::ifstream in(std::string(EARSHOT_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find(describe_options_markdown()), std::string::npos)
      << "regenerate: earshot-node --config-reference";
}

}  // namespace
}  // namespace earshot::device
