// FrameRing (src/drivers/frame_ring.h) and RingDevice: order, back-pressure, batched publication, and a
// producer and consumer on two threads.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "drivers/ring_device.h"

namespace ustack {
namespace {

std::vector<std::byte> frame_of(uint32_t seq, size_t len) {
  std::vector<std::byte> f(len, std::byte{0});
  std::memcpy(f.data(), &seq, sizeof seq);
  for (size_t i = sizeof seq; i < len; ++i) f[i] = std::byte(uint8_t(seq + i));
  return f;
}

struct RingMem {
  explicit RingMem(uint32_t slots, uint32_t frame_max)
      : mem(FrameRing::bytes_needed(slots, frame_max) + 64),
        ring(FrameRing::create(aligned(), slots, frame_max)) {}
  void* aligned() {
    auto p = reinterpret_cast<uintptr_t>(mem.data());
    return reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
  }
  std::vector<std::byte> mem;
  FrameRing* ring;
};

TEST(FrameRing, DeliversInOrderAndPushesBackWhenFull) {
  RingMem m(8, 256);
  FrameRing& r = *m.ring;
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(r.push(frame_of(i, 60 + i)));
  EXPECT_FALSE(r.push(frame_of(99, 60))) << "a full ring must refuse";
  EXPECT_EQ(r.reserve(), nullptr);
  std::vector<uint32_t> seen;
  size_t n = r.consume(3, [&](std::span<const std::byte> f) {
    uint32_t seq;
    std::memcpy(&seq, f.data(), 4);
    EXPECT_EQ(f.size(), 60 + seq);
    seen.push_back(seq);
  });
  EXPECT_EQ(n, 3u);
  EXPECT_NE(r.reserve(), nullptr) << "consumed slots are free again";
  for (uint32_t i = 8; i < 11; ++i) ASSERT_TRUE(r.push(frame_of(i, 60)));
  r.consume(100, [&](std::span<const std::byte> f) {
    uint32_t seq;
    std::memcpy(&seq, f.data(), 4);
    seen.push_back(seq);
  });
  ASSERT_EQ(seen.size(), 11u);
  for (uint32_t i = 0; i < 11; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.push(std::vector<std::byte>(257))) << "longer than frame_max";
}

TEST(FrameRing, StagedFramesAreInvisibleUntilPublished) {
  RingMem m(16, 128);
  FrameRing& r = *m.ring;
  for (int i = 0; i < 3; ++i) {
    std::byte* p = r.reserve();
    ASSERT_NE(p, nullptr);
    std::memset(p, i, 10);
    r.stage(10);
  }
  EXPECT_EQ(r.staged(), 3u);
  EXPECT_EQ(r.consume(16, [](std::span<const std::byte>) {}), 0u);
  r.publish();
  EXPECT_EQ(r.staged(), 0u);
  EXPECT_EQ(r.consume(16, [](std::span<const std::byte> f) { EXPECT_EQ(f.size(), 10u); }), 3u);
}

// A producer and a consumer on two threads: every frame arrives once, intact and in order, through many
// wrap-arounds of a small ring.
TEST(FrameRing, TwoThreadsKeepOrderAndContent) {
  RingMem m(64, 512);
  FrameRing& r = *m.ring;
  constexpr uint32_t kFrames = 200000;
  std::thread producer([&] {
    for (uint32_t i = 0; i < kFrames; ++i) {
      auto f = frame_of(i, 40 + i % 400);
      while (!r.push(f)) std::this_thread::yield();
    }
  });
  uint32_t next = 0;
  bool intact = true;
  while (next < kFrames) {
    r.consume(32, [&](std::span<const std::byte> f) {
      uint32_t seq;
      std::memcpy(&seq, f.data(), 4);
      auto want = frame_of(next, 40 + next % 400);
      intact &= seq == next && f.size() == want.size() && std::memcmp(f.data(), want.data(), f.size()) == 0;
      ++next;
    });
  }
  producer.join();
  EXPECT_TRUE(intact);
  EXPECT_EQ(next, kFrames);
}

// The receive-side impairment drops every frame at loss 1, and counts each.
TEST(RingDevice, LossImpairmentDropsAndCounts) {
  FrameRingPair rings(16, 1514);
  auto a = rings.make_end(0, "r0", MacAddr{{2, 0, 0, 0, 0, 1}}, 1500);
  auto b = rings.make_end(1, "r1", MacAddr{{2, 0, 0, 0, 0, 2}}, 1500);
  VirtualClock clock;
  static_cast<RingDevice&>(*b).set_rx_impairment(clock, RingImpairment{1.0, Duration{0}, 3});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rings.ring(0).push(frame_of(uint32_t(i), 100)));
  EXPECT_EQ(b->poll(64), 5u);
  EXPECT_EQ(b->stats.rx_dropped, 5u);
}

// GSO metadata from the other end is believed only on an IPv4 TCP frame: segment counts claimed for
// anything else (a short UDP datagram here) drop the frame and count it, before any layer reads a TCP
// header that is not there.
TEST(RingDevice, GsoMetadataOnAFrameThatIsNoTcpSegmentIsDropped) {
  FrameRingPair rings(16, 1514);
  auto b = rings.make_end(1, "r1", MacAddr{{2, 0, 0, 0, 0, 2}}, 1500);
  std::vector<std::byte> f(14 + 28, std::byte{0});
  f[12] = std::byte{0x08};  // IPv4
  f[14] = std::byte{0x45};
  f[14 + 3] = std::byte{28};
  f[14 + 9] = std::byte{17};  // UDP
  std::byte* p = rings.ring(0).reserve();
  ASSERT_NE(p, nullptr);
  std::memcpy(p, f.data(), f.size());
  FrameDesc d{uint32_t(f.size())};
  d.gso_size = 1000;
  rings.ring(0).stage(d);
  rings.ring(0).publish();
  EXPECT_EQ(b->poll(64), 1u);
  EXPECT_EQ(b->stats.rx_errors, 1u);
}

}  // namespace
}  // namespace ustack
