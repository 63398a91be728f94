#include <gtest/gtest.h>

#include <array>

#include "core/checksum.h"

namespace ustack {
namespace {

// RFC 1071 §3: the example bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (before the complement).
TEST(Checksum, Rfc1071Example) {
  const std::array<uint8_t, 8> b = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  uint32_t sum = csum_partial(b.data(), b.size(), 0);
  EXPECT_EQ(csum_fold(sum), static_cast<uint16_t>(~0xddf2 & 0xffff));
}

TEST(Checksum, OddLengthPadsWithZero) {
  const std::array<uint8_t, 3> b = {0x12, 0x34, 0x56};
  EXPECT_EQ(csum_fold(csum_partial(b.data(), b.size(), 0)),
            static_cast<uint16_t>(~(0x1234 + 0x5600) & 0xffff));
}

TEST(Checksum, SplitSumsEqualWholeSum) {
  std::array<uint8_t, 64> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 37 + 11);
  uint32_t whole = csum_partial(b.data(), b.size(), 0);
  uint32_t split = csum_partial(b.data() + 20, 44, csum_partial(b.data(), 20, 0));
  EXPECT_EQ(csum_fold(whole), csum_fold(split));
}

TEST(Checksum, VerifiesToZero) {
  // A header with its checksum in place sums to 0xffff, i.e. folds to 0.
  std::array<uint8_t, 20> ip = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  uint16_t c = csum_fold(csum_partial(ip.data(), ip.size(), 0));
  EXPECT_EQ(c, 0xb861);  // the well-known example header
  ip[10] = static_cast<uint8_t>(c >> 8);
  ip[11] = static_cast<uint8_t>(c & 0xff);
  EXPECT_EQ(csum_fold(csum_partial(ip.data(), ip.size(), 0)), 0);
}

// The word-at-a-time sum against RFC 1071's definition (16-bit big-endian words, end-around carry) for
// every length up to 300 at every alignment, with random bytes and a running sum carried in.
TEST(Checksum, MatchesDefinitionAtEveryLengthAndAlignment) {
  auto reference = [](const uint8_t* p, size_t len, uint32_t sum) {
    uint64_t s = sum;
    for (size_t i = 0; i + 1 < len; i += 2) s += (uint32_t{p[i]} << 8) | p[i + 1];
    if (len & 1) s += uint32_t{p[len - 1]} << 8;
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
  };
  std::array<uint8_t, 320> b{};
  uint32_t x = 12345;
  for (auto& v : b) {
    x = x * 1103515245 + 12345;
    v = static_cast<uint8_t>(x >> 16);
  }
  for (size_t off = 0; off < 8; ++off)
    for (size_t len = 0; len <= 300; ++len)
      for (uint32_t carry_in : {0u, 0xffffu, 0x1fffeu, 0xfffffffeu}) {
        uint16_t want = reference(b.data() + off, len, carry_in);
        uint32_t got = csum_partial(b.data() + off, len, carry_in);
        ASSERT_EQ(static_cast<uint16_t>(~csum_fold(got)), want) << "off " << off << " len " << len;
      }
  // All ones: the end-around carries of the widest words.
  std::array<uint8_t, 96> ones;
  ones.fill(0xff);
  EXPECT_EQ(csum_fold(csum_partial(ones.data(), ones.size(), 0)), 0);
}

// The inline IPv4 header sum against the general one, for every header length and random contents.
TEST(Checksum, IpFastCsumMatchesCsumPartial) {
  std::array<uint8_t, 64> b{};
  uint32_t x = 777;
  for (int round = 0; round < 200; ++round) {
    for (auto& v : b) {
      x = x * 1103515245 + 12345;
      v = static_cast<uint8_t>(x >> 16);
    }
    if (round == 0) b.fill(0xff);
    for (unsigned ihl = 5; ihl <= 15; ++ihl)
      ASSERT_EQ(ip_fast_csum(b.data(), ihl), csum_fold(csum_partial(b.data(), ihl * 4, 0))) << "ihl " << ihl;
  }
  // The well-known example header (see VerifiesToZero).
  const std::array<uint8_t, 20> ip = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                      0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ip_fast_csum(ip.data(), 5), 0xb861);
}

}  // namespace
}  // namespace ustack
