// The node's code order (device/earshot-node.order, tools/node_code_order.sh): the functions a
// streaming node runs are laid out together at the front of its code, which is what keeps its
// resident memory under the issue-10 goals (docs/benchmarks.md, "Memory"). A link without the
// order (GNU ld, the option lost) scatters them over most of the code; a list gone stale (the
// code renamed under it) names functions the binary no longer has. Both fail here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"

namespace earshot {
namespace {

struct OrderFile {
  std::vector<std::string> streaming;  // "# ws:// streaming" section
  std::vector<std::string> tls;        // "# what wss:// adds"
};

OrderFile read_order(const std::string& path) {
  OrderFile order;
  std::vector<std::string>* part = nullptr;
  std::istringstream lines(test::read_file(path));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# ws://", 0) == 0) {
      part = &order.streaming;
    } else if (line.rfind("# what wss://", 0) == 0) {
      part = &order.tls;
    } else if (!line.empty() && line[0] != '#' && part) {
      part->push_back(line);
    }
  }
  return order;
}

// The node's code symbols (nm types t, T, w, W) and their addresses.
std::map<std::string, uint64_t> code_symbols(const std::string& binary) {
  std::string out;
  EXPECT_EQ(test::run_command({EARSHOT_NM, "--defined-only", binary}, "nm",
                              std::chrono::seconds(60), &out),
            0);
  std::map<std::string, uint64_t> symbols;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string address, type, name;
    if (fields >> address >> type >> name && type.size() == 1 &&
        std::string("tTwW").find(type[0]) != std::string::npos) {
      symbols[name] = std::stoull(address, nullptr, 16);
    }
  }
  return symbols;
}

TEST(NodeCodeOrder, TheFunctionsAStreamingNodeRunsSitTogether) {
  const OrderFile order = read_order(EARSHOT_NODE_CODE_ORDER);
  ASSERT_GT(order.streaming.size(), 500u) << "the order file lists too little to be the real one";
  const auto symbols = code_symbols(EARSHOT_NODE_BINARY);
  ASSERT_FALSE(symbols.empty());
  uint64_t text_begin = UINT64_MAX, text_end = 0;
  for (const auto& [name, address] : symbols) {
    text_begin = std::min(text_begin, address);
    text_end = std::max(text_end, address);
  }

  // Stale: most listed functions must still exist (an arm64 build lacks x86's assembly routines
  // and has its own, so not all).
  size_t found = 0;
  uint64_t first = UINT64_MAX, last = 0;
  for (const auto& name : order.streaming) {
    auto it = symbols.find(name);
    if (it == symbols.end()) continue;
    ++found;
    first = std::min(first, it->second);
    last = std::max(last, it->second);
  }
  EXPECT_GE(found * 100, order.streaming.size() * 90)
      << found << " of the " << order.streaming.size()
      << " functions listed are in the binary: run tools/node_code_order.sh";

  // Packed: they lie together, within a quarter of the code. Unordered they spread over 87 % of
  // it; ordered, 13 % when the list was written, on x86-64 and on arm64 (where lld puts the
  // ordered block in the middle of the code, to keep branches to either side in range).
  const double span = double(last - first) / double(text_end - text_begin);
  EXPECT_LT(span, 0.25) << "the streaming node's functions spread over " << int(span * 100)
                        << " % of the code: is the node linked with lld and its order file?";
}

}  // namespace
}  // namespace earshot
