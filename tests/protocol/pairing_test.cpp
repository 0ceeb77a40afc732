// The pairing messages (protocol/pairing.h): what parses, what is refused and why, round trips.
#include "protocol/pairing.h"

#include <gtest/gtest.h>

namespace earshot::protocol {
namespace {

TEST(PairingMessages, RequestRoundTrips) {
  PairRequest m;
  m.node_id = "kitchen";
  m.code = "042917";
  m.room = "kitchen";
  const std::string text = to_json(m);
  ASSERT_TRUE(is_pairing_message(text));
  PairingParseResult r = parse_pairing_message(text, Direction::kNodeToHost);
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& back = std::get<PairRequest>(*r.message);
  EXPECT_EQ(back.node_id, "kitchen");
  EXPECT_EQ(back.code, "042917");
  EXPECT_EQ(back.room.value_or(""), "kitchen");
  EXPECT_EQ(back.versions, std::vector<int>{kProtocolVersion});
}

TEST(PairingMessages, AnswersRoundTrip) {
  PairingParseResult p = parse_pairing_message(to_json(PairPending{120}), Direction::kHostToNode);
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(std::get<PairPending>(*p.message).window_s, 120);
  PairingParseResult d =
      parse_pairing_message(to_json(Paired{"kitchen", "abc.def"}), Direction::kHostToNode);
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(std::get<Paired>(*d.message).token, "abc.def");
}

TEST(PairingMessages, RefusesBadCodesIdsAndDirections) {
  const auto up = [](const std::string& text) {
    return parse_pairing_message(text, Direction::kNodeToHost);
  };
  EXPECT_NE(up(R"({"type":"pair_request","node_id":"n","code":"12345"})").error.find("code"),
            std::string::npos);
  EXPECT_FALSE(up(R"({"type":"pair_request","node_id":"n","code":"12345a"})").ok());
  EXPECT_FALSE(up(R"({"type":"pair_request","node_id":"n","code":123456})").ok());
  EXPECT_NE(up(R"({"type":"pair_request","node_id":"a b","code":"123456"})").error.find("node_id"),
            std::string::npos);
  EXPECT_FALSE(up(R"({"type":"paired","node_id":"n","token":"t"})").ok());  // wrong direction
  EXPECT_FALSE(parse_pairing_message(R"({"type":"paired","node_id":"n","token":"a\nb"})",
                                     Direction::kHostToNode)
                   .ok());  // would break the Authorization header
  EXPECT_FALSE(up("not json").ok());
  EXPECT_FALSE(is_pairing_message(R"({"type":"hello","node_id":"pair"})"));
  EXPECT_TRUE(is_pairing_message(R"({"type":"\u0070aired"})"));  // JSON escapes are JSON
  EXPECT_TRUE(is_valid_pairing_code("000000"));
  EXPECT_FALSE(is_valid_pairing_code("00000"));
}

}  // namespace
}  // namespace earshot::protocol
