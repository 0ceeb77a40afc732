// The node's state directory (device/node_state.h) and its pairing codes (device/bridge_setup.h).
#include "device/node_state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "device/bridge_setup.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot::device {
namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
}

TEST(NodeState, KeptPrivatelyAndReadBack) {
  const std::string dir = test::scratch_dir("node_state") + "/state";  // created 0700
  EXPECT_TRUE(load_node_state(dir).token.empty());
  const mode_t old_umask = umask(0);  // files are 0600 whatever the umask
  ASSERT_EQ(save_node_state(dir, {"kitchen.abc", "AB:CD"}), "");
  umask(old_umask);
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(dir + "/token"), 0600u);
  EXPECT_EQ(mode_of(dir + "/bridge.fingerprint"), 0600u);
  const NodeState back = load_node_state(dir);
  EXPECT_EQ(back.token, "kitchen.abc");
  EXPECT_EQ(back.fingerprint, "AB:CD");
  // Replaced whole, and no temporary file left behind.
  ASSERT_EQ(save_node_state(dir, {"kitchen.def", ""}), "");
  EXPECT_EQ(load_node_state(dir).token, "kitchen.def");
  EXPECT_EQ(test::read_file(dir + "/token.new"), "");
  EXPECT_EQ(check_state_dir(dir), "");
  EXPECT_NE(check_state_dir("/proc/earshot-cannot-be-here"), "");
  EXPECT_NE(check_state_dir(""), "");
}

TEST(PairingCode, SixDigitsAndNotRepeating) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string code = new_pairing_code();
    ASSERT_EQ(code.size(), 6u) << code;
    EXPECT_EQ(code.find_first_not_of("0123456789"), std::string::npos) << code;
    seen.insert(code);
  }
  EXPECT_GT(seen.size(), 190u);  // 200 draws from a million: a repeat or two at most
}

}  // namespace
}  // namespace earshot::device
