// SpscRing: the lock-free hand-off from the real-time capture thread. Wrap-around, full and empty
// behave, and a producer and consumer on two threads pass every sample through in order.
#include "device/audio/spsc_ring.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace earshot::device {
namespace {

TEST(SpscRing, WrapsAroundAndRefusesWhatDoesNotFit) {
  SpscRing<int> ring(6);
  ASSERT_GE(ring.capacity(), 6u);
  const size_t cap = ring.capacity();
  std::vector<int> in(cap + 3);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = int(i);
  EXPECT_EQ(ring.write(in.data(), in.size()), cap);  // only what fits
  EXPECT_EQ(ring.writable(), 0u);
  std::vector<int> out(cap);
  EXPECT_EQ(ring.read(out.data(), 3), 3u);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[2], 2);
  EXPECT_EQ(ring.write(in.data() + cap, 3), 3u);  // wraps
  EXPECT_EQ(ring.read(out.data(), cap), cap);
  for (size_t i = 0; i < cap; ++i)
    EXPECT_EQ(out[i], int(i + 3));
  EXPECT_EQ(ring.readable(), 0u);
  EXPECT_EQ(ring.read(out.data(), 1), 0u);
}

TEST(SpscRing, TwoThreadsPassEverySampleInOrder) {
  SpscRing<int> ring(256);
  constexpr int kTotal = 1 << 20;
  std::thread producer([&] {
    int next = 0, chunk[37];
    while (next < kTotal) {
      int n = std::min(37, kTotal - next);
      for (int k = 0; k < n; ++k)
        chunk[k] = next + k;
      size_t done = 0;
      while (done < size_t(n)) {
        done += ring.write(chunk + done, size_t(n) - done);
        if (done < size_t(n)) std::this_thread::yield();
      }
      next += n;
    }
  });
  int expected = 0, buf[53];
  bool in_order = true;
  while (expected < kTotal) {
    size_t n = ring.read(buf, 53);
    if (!n) std::this_thread::yield();
    for (size_t k = 0; k < n; ++k)
      in_order = in_order && buf[k] == expected++;
  }
  producer.join();
  EXPECT_TRUE(in_order);
}

}  // namespace
}  // namespace earshot::device
