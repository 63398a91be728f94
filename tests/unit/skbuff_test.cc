#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/skbuff.h"
#include "support/net_test_util.h"

namespace ustack {
namespace {

using test::Bytes;
using test::pattern;

Bytes contents(const SkBuff& s) { return Bytes(s.bytes().begin(), s.bytes().end()); }

TEST(SkBuff, AllocGivesEmptyBufferWithRequestedRoom) {
  SkbPtr s = SkBuff::alloc(64, 100);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->len(), 0u);
  EXPECT_EQ(s->headroom(), 64u);
  EXPECT_GE(s->tailroom(), 100u);
  EXPECT_FALSE(s->cloned());
  EXPECT_FALSE(s->has_mac_header());
  EXPECT_FALSE(s->has_network_header());
  EXPECT_FALSE(s->has_transport_header());
}

TEST(SkBuff, ReserveMovesEmptyDataForward) {
  SkbPtr s = SkBuff::alloc(0, 200);
  size_t tail = s->tailroom();
  s->reserve(32);
  EXPECT_EQ(s->headroom(), 32u);
  EXPECT_EQ(s->len(), 0u);
  EXPECT_EQ(s->tailroom(), tail - 32);
}

TEST(SkBuff, PutAppendsAtTheTail) {
  SkbPtr s = SkBuff::alloc(16, 64);
  size_t room = s->tailroom();
  auto a = s->put(4);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.data(), s->data());
  std::memset(a.data(), 0xaa, 4);
  Bytes more = test::bytes_of({1, 2, 3});
  auto b = s->put_data(more);
  EXPECT_EQ(b.data(), s->data() + 4);
  EXPECT_EQ(s->len(), 7u);
  EXPECT_EQ(s->tailroom(), room - 7);
  EXPECT_EQ(contents(*s), test::bytes_of({0xaa, 0xaa, 0xaa, 0xaa, 1, 2, 3}));
  EXPECT_EQ(s->headroom(), 16u);
}

TEST(SkBuff, PushPrependsIntoHeadroom) {
  SkbPtr s = SkBuff::alloc(32, 64);
  (void)s->put_data(test::bytes_of({9, 9}));
  auto h = s->push(4);
  EXPECT_EQ(h.data(), s->data());
  EXPECT_EQ(h.size(), 4u);
  std::memcpy(h.data(), test::bytes_of({1, 2, 3, 4}).data(), 4);
  EXPECT_EQ(s->headroom(), 28u);
  EXPECT_EQ(s->len(), 6u);
  EXPECT_EQ(contents(*s), test::bytes_of({1, 2, 3, 4, 9, 9}));
  // All of the headroom can be used.
  (void)s->push(28);
  EXPECT_EQ(s->headroom(), 0u);
  EXPECT_EQ(s->len(), 34u);
}

TEST(SkBuff, PullDropsFrontBytesAndFailsOnShortData) {
  SkbPtr s = SkBuff::alloc(8, 64);
  (void)s->put_data(test::bytes_of({1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(s->may_pull(6));
  EXPECT_FALSE(s->may_pull(7));
  EXPECT_TRUE(s->pull(2));
  EXPECT_EQ(s->len(), 4u);
  EXPECT_EQ(s->headroom(), 10u);
  EXPECT_EQ(contents(*s), test::bytes_of({3, 4, 5, 6}));
  // Asking for more than is there fails and changes nothing.
  const std::byte* before = s->data();
  EXPECT_FALSE(s->pull(5));
  EXPECT_EQ(s->len(), 4u);
  EXPECT_EQ(s->data(), before);
  EXPECT_EQ(contents(*s), test::bytes_of({3, 4, 5, 6}));
  // Exactly everything is fine; then nothing more.
  EXPECT_TRUE(s->pull(4));
  EXPECT_EQ(s->len(), 0u);
  EXPECT_FALSE(s->pull(1));
  EXPECT_TRUE(s->pull(0));
}

TEST(SkBuff, TrimShortensButNeverLengthens) {
  SkbPtr s = SkBuff::alloc(0, 64);
  (void)s->put_data(test::bytes_of({1, 2, 3, 4, 5}));
  s->trim(10);
  EXPECT_EQ(s->len(), 5u);
  s->trim(3);
  EXPECT_EQ(s->len(), 3u);
  EXPECT_EQ(contents(*s), test::bytes_of({1, 2, 3}));
  // The trimmed bytes are tailroom again.
  size_t room = s->tailroom();
  (void)s->put(2);
  EXPECT_EQ(s->tailroom(), room - 2);
  s->trim(0);
  EXPECT_EQ(s->len(), 0u);
}

TEST(SkBuff, HeaderOffsetsFollowDataStart) {
  SkbPtr s = SkBuff::alloc(64, 100);
  Bytes payload = pattern(40, 1);
  (void)s->put_data(payload);
  s->reset_network_header();
  s->set_transport_header(20);
  EXPECT_EQ(s->network_offset(), 0);
  EXPECT_EQ(s->transport_offset(), 20);
  EXPECT_EQ(s->network_len(), 40u);
  EXPECT_EQ(s->transport_header(), s->data() + 20);
  ASSERT_TRUE(s->pull(20));
  EXPECT_EQ(s->network_offset(), -20);
  EXPECT_EQ(s->transport_offset(), 0);
  EXPECT_EQ(s->network_len(), 40u);  // still measured from the network header
  EXPECT_EQ(std::memcmp(s->network_header(), payload.data(), 40), 0);
  (void)s->push(34);
  s->reset_mac_header();
  EXPECT_TRUE(s->has_mac_header());
  EXPECT_EQ(s->mac_header(), s->data());
}

TEST(SkBuff, CloneSharesBytesAndCopiesMetadata) {
  SkbPtr s = SkBuff::alloc(32, 64);
  (void)s->put_data(pattern(50, 2));
  s->reset_network_header();
  s->set_transport_header(20);
  s->ifindex = 7;
  s->protocol = 0x0800;
  s->pkt_type = PacketType::kBroadcast;
  s->priority = 2;
  s->ip_summed = CsumState::kUnnecessary;
  struct Cb {
    uint32_t a;
    uint64_t b;
  };
  s->cb<Cb>() = Cb{11, 22};

  SkbPtr c = s->clone();
  EXPECT_TRUE(s->cloned());
  EXPECT_TRUE(c->cloned());
  EXPECT_EQ(c->data(), s->data());  // the same bytes, not a copy
  EXPECT_EQ(c->len(), 50u);
  EXPECT_EQ(c->headroom(), s->headroom());
  EXPECT_EQ(c->network_offset(), 0);
  EXPECT_EQ(c->transport_offset(), 20);
  EXPECT_EQ(c->ifindex, 7);
  EXPECT_EQ(c->protocol, 0x0800);
  EXPECT_EQ(c->pkt_type, PacketType::kBroadcast);
  EXPECT_EQ(c->priority, 2);
  EXPECT_EQ(c->ip_summed, CsumState::kUnnecessary);
  EXPECT_EQ(c->cb<Cb>().a, 11u);
  EXPECT_EQ(c->cb<Cb>().b, 22u);

  // A write through one is seen by the other: that is what sharing means, and why writers unshare.
  s->data()[0] = std::byte{0x5a};
  EXPECT_EQ(c->data()[0], std::byte{0x5a});
  // Metadata is private: pulling one does not move the other.
  ASSERT_TRUE(c->pull(10));
  EXPECT_EQ(s->len(), 50u);
  EXPECT_EQ(c->len(), 40u);

  // Dropping the clone leaves the original sole owner.
  c.reset();
  EXPECT_FALSE(s->cloned());
}

TEST(SkBuff, UnshareCopiesBeforeWrite) {
  SkbPtr s = SkBuff::alloc(32, 64);
  Bytes orig = pattern(48, 3);
  (void)s->put_data(orig);
  s->reset_network_header();
  SkbPtr c = s->clone();
  ASSERT_TRUE(c->pull(8));
  c->unshare();
  EXPECT_FALSE(c->cloned());
  EXPECT_FALSE(s->cloned());
  EXPECT_NE(c->data(), s->data() + 8);
  EXPECT_EQ(c->headroom(), s->headroom() + 8);
  EXPECT_EQ(c->network_offset(), -8);
  EXPECT_EQ(std::memcmp(c->network_header(), orig.data(), orig.size()), 0);
  c->data()[0] = std::byte{0xff};
  EXPECT_EQ(contents(*s), orig);  // the original is untouched
  // Unsharing a private buffer changes nothing.
  const std::byte* p = s->data();
  s->unshare();
  EXPECT_EQ(s->data(), p);
}

TEST(SkBuff, CopyIsPrivateWithSameLayout) {
  SkbPtr s = SkBuff::alloc(40, 64);
  (void)s->put_data(pattern(30, 4));
  s->reset_network_header();
  SkbPtr c = s->copy();
  EXPECT_FALSE(s->cloned());
  EXPECT_FALSE(c->cloned());
  EXPECT_NE(c->data(), s->data());
  EXPECT_EQ(c->headroom(), 40u);
  EXPECT_EQ(contents(*c), contents(*s));
  c->data()[3] = ~c->data()[3];
  EXPECT_NE(contents(*c), contents(*s));
}

TEST(SkBuff, ExpandHeadKeepsHeaderOffsetsValid) {
  SkbPtr s = SkBuff::alloc(8, 100);
  Bytes pkt = pattern(60, 5);
  (void)s->put_data(pkt);
  s->reset_mac_header();
  ASSERT_TRUE(s->pull(14));
  s->reset_network_header();
  s->set_transport_header(20);
  const std::byte* old_data = s->data();

  s->expand_head(200);
  EXPECT_GE(s->headroom(), 200u);
  EXPECT_NE(s->data(), old_data);
  EXPECT_EQ(s->len(), 46u);
  EXPECT_EQ(s->network_offset(), 0);
  EXPECT_EQ(s->transport_offset(), 20);
  EXPECT_EQ(s->mac_header() + 14, s->data());
  EXPECT_EQ(std::memcmp(s->mac_header(), pkt.data(), pkt.size()), 0);
  EXPECT_EQ(std::memcmp(s->transport_header(), pkt.data() + 34, 26), 0);
  // The new headroom is usable.
  (void)s->push(200);
  EXPECT_EQ(s->len(), 246u);
}

TEST(SkBuff, ExpandHeadWithEnoughRoomIsANoOp) {
  SkbPtr s = SkBuff::alloc(64, 10);
  (void)s->put(10);
  const std::byte* p = s->data();
  s->expand_head(32);
  EXPECT_EQ(s->data(), p);
  EXPECT_EQ(s->headroom(), 64u);
}

TEST(SkBuff, ExpandHeadOnACloneMakesItPrivate) {
  SkbPtr s = SkBuff::alloc(64, 32);
  Bytes orig = pattern(32, 6);
  (void)s->put_data(orig);
  SkbPtr c = s->clone();
  c->expand_head(16);  // room enough, but the bytes are shared: a header write needs a copy
  EXPECT_FALSE(c->cloned());
  EXPECT_FALSE(s->cloned());
  EXPECT_GE(c->headroom(), 16u);
  auto h = c->push(4);
  std::memset(h.data(), 0, 4);
  c->data()[4] = std::byte{0};
  EXPECT_EQ(contents(*s), orig);
}

TEST(SkBuff, ControlBlockIsPerSkbScratch) {
  struct Cb {
    uint32_t seq;
    uint32_t end_seq;
    uint16_t flags;
  };
  SkbPtr s = SkBuff::alloc(0, 16);
  s->clear_cb();
  EXPECT_EQ(s->cb<Cb>().seq, 0u);
  s->cb<Cb>().seq = 1000;
  s->cb<Cb>().end_seq = 2000;
  s->cb<Cb>().flags = 7;
  EXPECT_EQ(s->cb<Cb>().seq, 1000u);
  EXPECT_EQ(s->cb<Cb>().end_seq, 2000u);
  SkbPtr other = SkBuff::alloc(0, 16);
  other->clear_cb();
  EXPECT_EQ(other->cb<Cb>().seq, 0u);
  s->clear_cb();
  EXPECT_EQ(s->cb<Cb>().end_seq, 0u);
  EXPECT_EQ(s->cb<Cb>().flags, 0u);
}

using SkBuffDeathTest = ::testing::Test;

TEST_F(SkBuffDeathTest, PushPastHeadroomAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SkbPtr s = SkBuff::alloc(4, 16);
        (void)s->push(5);
      },
      "invariant broken");
}

TEST_F(SkBuffDeathTest, PutPastTailroomAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SkbPtr s = SkBuff::alloc(0, 16);
        (void)s->put(s->tailroom() + 1);
      },
      "invariant broken");
}

// --- SkbQueue ---

SkbPtr make(size_t len, uint8_t tag) {
  SkbPtr s = SkBuff::alloc(0, len);
  auto p = s->put(len);
  if (len) p[0] = std::byte{tag};
  return s;
}

std::vector<int> tags(const SkbQueue& q) {
  std::vector<int> v;
  for (SkBuff* s = q.front(); s; s = SkbQueue::next(s)) v.push_back(static_cast<int>(s->data()[0]));
  return v;
}

std::vector<int> tags_backwards(const SkbQueue& q) {
  std::vector<int> v;
  for (SkBuff* s = q.back(); s; s = SkbQueue::prev(s)) v.push_back(static_cast<int>(s->data()[0]));
  return v;
}

TEST(SkbQueue, FifoOrderAndByteCount) {
  SkbQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop_front(), nullptr);
  q.push_back(make(10, 1));
  q.push_back(make(20, 2));
  q.push_back(make(30, 3));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.bytes(), 60u);
  EXPECT_EQ(tags(q), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(tags_backwards(q), (std::vector<int>{3, 2, 1}));
  SkbPtr a = q.pop_front();
  EXPECT_EQ(a->data()[0], std::byte{1});
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.bytes(), 50u);
  q.push_front(std::move(a));
  EXPECT_EQ(tags(q), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(q.bytes(), 60u);
}

TEST(SkbQueue, InsertBeforeAnywhere) {
  SkbQueue q;
  q.push_back(make(1, 2));
  q.push_back(make(1, 4));
  q.insert_before(q.front(), make(1, 1));  // new head
  q.insert_before(q.back(), make(1, 3));   // middle
  q.insert_before(nullptr, make(1, 5));    // nullptr: at the back
  EXPECT_EQ(tags(q), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(tags_backwards(q), (std::vector<int>{5, 4, 3, 2, 1}));
  EXPECT_EQ(q.size(), 5u);
  EXPECT_EQ(q.bytes(), 5u);
}

TEST(SkbQueue, InsertIntoEmptyQueue) {
  SkbQueue q;
  q.insert_before(nullptr, make(7, 9));
  EXPECT_EQ(q.front(), q.back());
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.bytes(), 7u);
}

TEST(SkbQueue, UnlinkFromHeadMiddleAndTail) {
  SkbQueue q;
  for (uint8_t t = 1; t <= 5; ++t) q.push_back(make(t * 10, t));
  EXPECT_EQ(q.bytes(), 150u);
  SkBuff* mid = SkbQueue::next(SkbQueue::next(q.front()));  // tag 3
  SkbPtr m = q.unlink(mid);
  EXPECT_EQ(m->data()[0], std::byte{3});
  EXPECT_EQ(SkbQueue::next(m.get()), nullptr);
  EXPECT_EQ(SkbQueue::prev(m.get()), nullptr);
  EXPECT_EQ(tags(q), (std::vector<int>{1, 2, 4, 5}));
  EXPECT_EQ(q.bytes(), 120u);
  SkbPtr h = q.unlink(q.front());
  SkbPtr t = q.unlink(q.back());
  EXPECT_EQ(h->data()[0], std::byte{1});
  EXPECT_EQ(t->data()[0], std::byte{5});
  EXPECT_EQ(tags(q), (std::vector<int>{2, 4}));
  EXPECT_EQ(tags_backwards(q), (std::vector<int>{4, 2}));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.bytes(), 60u);
  // An unlinked skb can join another queue.
  SkbQueue other;
  other.push_back(std::move(m));
  EXPECT_EQ(other.bytes(), 30u);
}

TEST(SkbQueue, PurgeAndMove) {
  SkbQueue q;
  for (uint8_t t = 1; t <= 3; ++t) q.push_back(make(8, t));
  SkbQueue moved(std::move(q));
  EXPECT_TRUE(q.empty());  // NOLINT(bugprone-use-after-move): the moved-from queue is defined empty
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(moved.size(), 3u);
  EXPECT_EQ(moved.bytes(), 24u);
  EXPECT_EQ(tags(moved), (std::vector<int>{1, 2, 3}));
  SkbQueue assigned;
  assigned.push_back(make(100, 9));
  assigned = std::move(moved);
  EXPECT_EQ(tags(assigned), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(assigned.bytes(), 24u);
  assigned.purge();
  EXPECT_TRUE(assigned.empty());
  EXPECT_EQ(assigned.size(), 0u);
  EXPECT_EQ(assigned.bytes(), 0u);
  EXPECT_EQ(assigned.front(), nullptr);
  EXPECT_EQ(assigned.back(), nullptr);
}

// --- the pool ---

TEST(SkbPool, SteadyStateAllocatesFromThePool) {
  // Warm up every size class this test touches.
  {
    std::vector<SkbPtr> warm;
    for (int i = 0; i < 8; ++i) {
      warm.push_back(SkBuff::alloc(64, 100));
      warm.push_back(SkBuff::alloc(128, 1500));
      warm.push_back(SkBuff::alloc(128, 9000));
    }
  }
  SkbPoolStats before = skb_pool_stats();
  for (int i = 0; i < 1000; ++i) {
    SkbPtr a = SkBuff::alloc(64, 100);
    SkbPtr b = SkBuff::alloc(128, 1500);
    SkbPtr c = b->clone();  // metadata only
    SkbPtr d = SkBuff::alloc(128, 9000);
    (void)a->put(100);
    (void)b->put(1500);
  }
  SkbPoolStats after = skb_pool_stats();
  EXPECT_EQ(after.skb_heap_allocs, before.skb_heap_allocs);
  EXPECT_EQ(after.data_heap_allocs, before.data_heap_allocs);
  EXPECT_EQ(after.skb_pool_hits - before.skb_pool_hits, 4000u);
  EXPECT_EQ(after.data_pool_hits - before.data_pool_hits, 3000u);
}

TEST(SkbPool, StackTrafficInSteadyStateDoesNotTouchTheHeap) {
  // Ping-pong through two stacks: after the first exchanges, every packet buffer is recycled.
  Sim sim(3);
  Stack& a = sim.add_stack("a");
  Stack& b = sim.add_stack("b");
  sim.connect(a, Ipv4Cidr{Ipv4Addr(10, 0, 0, 1), 24}, b, Ipv4Cidr{Ipv4Addr(10, 0, 0, 2), 24});
  int replies = 0;
  a.icmp().set_echo_listener(7, Icmp::EchoListener{[&](const EchoReply&) { ++replies; }, nullptr});
  Bytes payload = pattern(56, 7);
  auto ping = [&](uint16_t seq) {
    ASSERT_TRUE(a.icmp().send_echo(Ipv4Addr(10, 0, 0, 2), 7, seq, payload));
    sim.run_for(10ms);
  };
  for (uint16_t i = 0; i < 20; ++i) ping(i);
  SkbPoolStats before = skb_pool_stats();
  for (uint16_t i = 20; i < 220; ++i) ping(i);
  SkbPoolStats after = skb_pool_stats();
  EXPECT_EQ(replies, 220);
  EXPECT_EQ(after.skb_heap_allocs, before.skb_heap_allocs);
  EXPECT_EQ(after.data_heap_allocs, before.data_heap_allocs);
  EXPECT_GE(after.skb_pool_hits - before.skb_pool_hits, 200u);  // a request each; replies reuse it
}

TEST(SkbPool, OversizedBuffersAreNotPooled) {
  SkbPoolStats before = skb_pool_stats();
  for (int i = 0; i < 3; ++i) {
    SkbPtr s = SkBuff::alloc(0, 70000);
    EXPECT_GE(s->tailroom(), 70000u);
  }
  SkbPoolStats after = skb_pool_stats();
  EXPECT_EQ(after.data_heap_allocs - before.data_heap_allocs, 3u);
}

}  // namespace
}  // namespace ustack
