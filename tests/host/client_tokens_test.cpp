// Client tokens (host/client_tokens.h): what the store keeps is a hash, a token admits only the
// browser it was made for and only while it is live, and the names are checked.
#include "host/client_tokens.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "host/store/store.h"
#include "host/web/web_files.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

TEST(ClientTokens, Sha256IsTheStandardOne) {
  // FIPS 180-2 test vector.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ClientTokens, ATokenAdmitsItsOwnBrowserWhileLiveAndTheStoreKeepsOnlyItsHash) {
  const std::string path = test::scratch_dir("client_tokens") + "/earshot.db";
  unlink(path.c_str());
  std::string error;
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  const std::optional<std::string> token =
      create_client_token(*store, "kitchen-tablet", 1700000000000, &error);
  ASSERT_TRUE(token) << error;
  ASSERT_EQ(token->rfind("kitchen-tablet.", 0), 0u) << *token;
  EXPECT_EQ(token->size(), std::string("kitchen-tablet.").size() + 64);
  const auto kept = store->client_tokens();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].token_sha256, sha256_hex(*token));
  EXPECT_EQ(kept[0].token_sha256.find(token->substr(15, 16)), std::string::npos);

  EXPECT_TRUE(client_token_admits(store.get(), *token, "browser-kitchen-tablet"));
  EXPECT_FALSE(client_token_admits(store.get(), *token, "kitchen-tablet"));
  EXPECT_FALSE(client_token_admits(store.get(), *token, "browser-den"));
  EXPECT_FALSE(client_token_admits(nullptr, *token, "browser-kitchen-tablet"));
  std::string forged = *token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(client_token_admits(store.get(), forged, "browser-kitchen-tablet"));
  // The name in the token is not trusted: the stored name decides.
  EXPECT_FALSE(client_token_admits(store.get(), "den" + token->substr(14), "browser-den"));
  EXPECT_FALSE(client_token_admits(store.get(), "", "browser-kitchen-tablet"));

  ASSERT_TRUE(store->revoke_client_token("kitchen-tablet", 1700000001000, &error)) << error;
  EXPECT_FALSE(client_token_admits(store.get(), *token, "browser-kitchen-tablet"));
}

TEST(ClientTokens, NamesMustMakeAValidNodeId) {
  EXPECT_EQ(client_name_problem("kitchen-tablet"), "");
  EXPECT_EQ(client_name_problem("a.b_c-1"), "");
  EXPECT_EQ(client_name_problem(std::string(56, 'a')), "");
  EXPECT_NE(client_name_problem(std::string(57, 'a')), "");
  EXPECT_NE(client_name_problem(""), "");
  EXPECT_NE(client_name_problem("two words"), "");
  EXPECT_NE(client_name_problem("ünï"), "");
  std::string error;
  const std::string path = test::scratch_dir("client_tokens_names") + "/earshot.db";
  unlink(path.c_str());
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_FALSE(create_client_token(*store, "two words", 1, &error));
  EXPECT_NE(error.find("[A-Za-z0-9._-]"), std::string::npos) << error;
}

// The browser client's files are embedded and served at their paths, and nothing else is.
TEST(WebFiles, TheTalkPageAndItsScriptsAreServedAtTheirPaths) {
  for (const char* path :
       {"/talk", "/talk/", "/talk/talk.js", "/talk/timings.js", "/talk/worklet.js"}) {
    const std::optional<WebFile> f = find_web_file(path);
    ASSERT_TRUE(f) << path;
    EXPECT_GT(f->body.size(), 1000u) << path;
  }
  EXPECT_NE(find_web_file("/talk")->body.find("<script src=\"/talk/talk.js\">"),
            std::string_view::npos);
  EXPECT_EQ(std::string(find_web_file("/talk/talk.js")->content_type),
            "text/javascript; charset=utf-8");
  EXPECT_NE(find_web_file("/talk/worklet.js")->body.find("registerProcessor(\"earshot-playback\""),
            std::string_view::npos);
  EXPECT_FALSE(find_web_file("/talk/../bridge.toml"));
  EXPECT_FALSE(find_web_file("/talk/talk_worklet.js"));
  EXPECT_FALSE(find_web_file("/"));
}

}  // namespace
}  // namespace earshot::host
