#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "core/intrusive.h"
#include "core/object_cache.h"
#include "core/rand.h"
#include "core/ref_ptr.h"
#include "core/slab.h"

namespace ustack {
namespace {

struct Item {
  uint32_t key = 0;
  int id = 0;
  ListLink<Item> link;
  Item* chain = nullptr;
};

using ItemList = IntrusiveList<Item, &Item::link>;

std::vector<int> ids(const ItemList& l) {
  std::vector<int> v;
  l.for_each([&](Item& it) { v.push_back(it.id); });
  return v;
}

TEST(IntrusiveList, PushFrontAndEraseAnywhere) {
  ItemList l;
  EXPECT_TRUE(l.empty());
  Item a, b, c;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  l.push_front(a);
  l.push_front(b);
  l.push_front(c);
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(ids(l), (std::vector<int>{3, 2, 1}));
  l.erase(b);  // middle
  EXPECT_EQ(ids(l), (std::vector<int>{3, 1}));
  l.erase(c);  // head
  EXPECT_EQ(ids(l), (std::vector<int>{1}));
  EXPECT_EQ(l.front(), &a);
  l.erase(a);  // last
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.front(), nullptr);
  // Erased elements carry no stale links and can be linked again.
  EXPECT_EQ(a.link.next, nullptr);
  EXPECT_EQ(a.link.prev, nullptr);
  l.push_front(b);
  EXPECT_EQ(ids(l), (std::vector<int>{2}));
  l.erase(b);
}

// The death row's use: kept in order by inserting after the last element that is not later.
TEST(IntrusiveList, BackPrevAndInsertAfterKeepBothEnds) {
  ItemList l;
  Item a, b, c, d;
  a.id = 1;
  b.id = 2;
  c.id = 3;
  d.id = 4;
  l.push_back(b);
  EXPECT_EQ(l.front(), &b);
  EXPECT_EQ(l.back(), &b);
  l.push_back(d);
  l.insert_after(&b, c);       // middle
  l.insert_after(nullptr, a);  // front
  EXPECT_EQ(ids(l), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(l.back(), &d);
  EXPECT_EQ(ItemList::prev(d), &c);
  EXPECT_EQ(ItemList::prev(a), nullptr);
  EXPECT_TRUE(l.contains(a));
  EXPECT_TRUE(l.contains(c));
  l.erase(d);  // tail
  EXPECT_EQ(l.back(), &c);
  EXPECT_FALSE(l.contains(d));
  l.erase(a);
  l.erase(c);
  EXPECT_EQ(l.front(), &b);
  EXPECT_EQ(l.back(), &b);
  EXPECT_TRUE(l.contains(b));
  l.erase(b);
  EXPECT_EQ(l.back(), nullptr);
  EXPECT_FALSE(l.contains(b));
}

TEST(IntrusiveList, DrainWhileWalking) {
  ItemList l;
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 100; ++i) {
    items.push_back(std::make_unique<Item>());
    items.back()->id = i;
    l.push_front(*items.back());
  }
  // Remove the even ones while walking, as a reaper would.
  for (Item* it = l.front(); it;) {
    Item* next = ItemList::next(*it);
    if (it->id % 2 == 0) l.erase(*it);
    it = next;
  }
  EXPECT_EQ(l.size(), 50u);
  for (int id : ids(l)) EXPECT_EQ(id % 2, 1);
  while (Item* it = l.front()) l.erase(*it);
  EXPECT_TRUE(l.empty());
}

// A deliberately poor hash: every key in one of four chains, to exercise collisions.
struct CollidingTraits {
  using Key = uint32_t;
  static Key key(const Item& it) { return it.key; }
  static Item*& next(Item& it) { return it.chain; }
  size_t hash(Key k) const { return k % 4; }
};
struct GoodTraits {
  using Key = uint32_t;
  static Key key(const Item& it) { return it.key; }
  static Item*& next(Item& it) { return it.chain; }
  size_t hash(Key k) const { return size_t{k} * 0x9e3779b97f4a7c15ull >> 17; }
};

template <class Traits, size_t MaxLoad = 1>
void insert_find_erase_many(int n) {
  IntrusiveHashTable<Item, Traits, MaxLoad> t;
  EXPECT_EQ(t.find(7), nullptr);  // empty: no chains yet
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < n; ++i) {
    items.push_back(std::make_unique<Item>());
    items.back()->key = uint32_t(i) * 7919u + 1;
    items.back()->id = i;
    t.insert(*items.back());
    ASSERT_EQ(t.size(), size_t(i) + 1);
    // Grown by doubling: never more than MaxLoad elements per chain, never fewer than half that.
    ASSERT_LE(t.size(), t.bucket_count() * MaxLoad);
    ASSERT_EQ(t.bucket_count() & (t.bucket_count() - 1), 0u);
  }
  EXPECT_LE(t.bucket_count(), std::max<size_t>(16, 2 * size_t(n) / MaxLoad));
  for (auto& it : items) ASSERT_EQ(t.find(it->key), it.get());
  EXPECT_EQ(t.find(2), nullptr);
  size_t seen = 0;
  t.for_each([&](Item&) { ++seen; });
  EXPECT_EQ(seen, size_t(n));
  // Erase every third element, from the middles and the ends of chains.
  for (int i = 0; i < n; i += 3) t.erase(*items[i]);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(t.find(items[i]->key), i % 3 == 0 ? nullptr : items[i].get()) << i;
  }
  EXPECT_EQ(t.size(), size_t(n - (n + 2) / 3));
  for (int i = 0; i < n; ++i) {
    if (i % 3) t.erase(*items[i]);
  }
  EXPECT_TRUE(t.empty());
  for (auto& it : items) EXPECT_EQ(t.find(it->key), nullptr);
}

TEST(IntrusiveHashTable, InsertFindEraseGrow) { insert_find_erase_many<GoodTraits>(10000); }
TEST(IntrusiveHashTable, CollisionsStillFindEverything) { insert_find_erase_many<CollidingTraits>(500); }
TEST(IntrusiveHashTable, LongerChainsWhenAsked) { insert_find_erase_many<GoodTraits, 4>(10000); }

TEST(IntrusiveHashTable, EqualKeysAreKeptApart) {
  IntrusiveHashTable<Item, GoodTraits> t;
  Item a, b, c;
  a.key = b.key = 5;
  c.key = 6;
  t.insert(a);
  t.insert(b);
  t.insert(c);
  Item* first = t.find(5);
  ASSERT_TRUE(first == &a || first == &b);
  t.erase(*first);
  Item* second = t.find(5);
  ASSERT_TRUE(second == &a || second == &b);
  EXPECT_NE(first, second);
  t.erase(*second);
  EXPECT_EQ(t.find(5), nullptr);
  EXPECT_EQ(t.find(6), &c);
  EXPECT_EQ(t.size(), 1u);
}

TEST(IntrusiveHashTable, RandomOperationsMatchASet) {
  IntrusiveHashTable<Item, GoodTraits> t;
  Rng rng(3);
  std::vector<std::unique_ptr<Item>> pool;
  for (uint32_t k = 0; k < 2000; ++k) {
    pool.push_back(std::make_unique<Item>());
    pool.back()->key = k;
  }
  std::set<uint32_t> in;
  for (int step = 0; step < 50000; ++step) {
    uint32_t k = rng.below(2000);
    if (in.count(k)) {
      ASSERT_EQ(t.find(k), pool[k].get());
      t.erase(*pool[k]);
      in.erase(k);
    } else {
      ASSERT_EQ(t.find(k), nullptr);
      t.insert(*pool[k]);
      in.insert(k);
    }
    ASSERT_EQ(t.size(), in.size());
  }
  for (uint32_t k : in) EXPECT_EQ(t.find(k), pool[k].get());
}

// The heap's top is always the smallest key, through inserts, key changes and removals from anywhere,
// and each element's slot says where it is.
struct HeapItem {
  uint32_t key = 0;
  uint32_t slot = ~uint32_t{0};
};
struct HeapItemTraits {
  static uint32_t& slot(HeapItem& e) { return e.slot; }
  static bool before(const HeapItem& a, const HeapItem& b) { return a.key < b.key; }
};

TEST(IntrusiveHeap, RandomOperationsKeepTheSmallestOnTop) {
  using Heap = IntrusiveHeap<HeapItem, HeapItemTraits>;
  Heap h;
  Rng rng(5);
  std::vector<HeapItem> items(500);
  std::multiset<uint32_t> in;
  for (int step = 0; step < 50000; ++step) {
    HeapItem& e = items[rng.below(500)];
    if (Heap::contains(e) && rng.chance(0.4)) {
      in.erase(in.find(e.key));
      h.erase(e);
      EXPECT_FALSE(Heap::contains(e));
    } else {
      if (Heap::contains(e)) in.erase(in.find(e.key));
      e.key = rng.below(1000);
      in.insert(e.key);
      h.update(e);
    }
    ASSERT_EQ(h.size(), in.size());
    if (!in.empty()) {
      ASSERT_EQ(h.top()->key, *in.begin());
    }
  }
  while (HeapItem* e = h.top()) {
    ASSERT_EQ(e->key, *in.begin());
    in.erase(in.begin());
    h.erase(*e);
  }
  EXPECT_TRUE(in.empty());
  h.erase(items[0]);  // in no heap: harmless
}

// The slab hands out distinct slots, walks exactly the live objects, reuses freed slots, and gives an
// emptied page back unless it is the only one with room.
TEST(Slab, WalksTheLiveObjectsAndGivesEmptyPagesBack) {
  struct Obj {
    explicit Obj(int id, int* live) : id(id), live(live) { ++*live; }
    ~Obj() { --*live; }
    int id;
    int* live;
    char pad[240];
  };
  int live = 0;
  Slab<Obj> slab;  // 64 per page
  std::vector<Obj*> objs;
  for (int i = 0; i < 200; ++i) objs.push_back(slab.create(i, &live));
  EXPECT_EQ(live, 200);
  EXPECT_EQ(slab.size(), 200u);
  EXPECT_EQ(std::set<Obj*>(objs.begin(), objs.end()).size(), 200u);
  EXPECT_EQ(slab.page_count(), 4u);
  for (Obj* o : objs) EXPECT_EQ(reinterpret_cast<uintptr_t>(o) % alignof(Obj), 0u);
  // Free the odd ones: every page keeps some, and the walk finds exactly the even ones.
  for (int i = 1; i < 200; i += 2) slab.destroy(objs[size_t(i)]);
  EXPECT_EQ(slab.page_count(), 4u);
  std::set<int> seen, evens;
  slab.for_each([&](Obj& o) { seen.insert(o.id); });
  for (int i = 0; i < 200; i += 2) evens.insert(i);
  EXPECT_EQ(seen, evens);
  // A freed slot is taken again before a new page is made.
  Obj* again = slab.create(1000, &live);
  EXPECT_EQ(slab.page_count(), 4u);
  slab.destroy(again);
  // Emptying the first two pages gives them back.
  for (int i = 0; i < 128; i += 2) slab.destroy(objs[size_t(i)]);
  EXPECT_EQ(slab.size(), 36u);
  EXPECT_EQ(slab.page_count(), 2u);
  for (int i = 128; i < 200; i += 2) slab.destroy(objs[size_t(i)]);
  EXPECT_EQ(slab.size(), 0u);
  EXPECT_EQ(slab.page_count(), 1u);  // the one kept for the next
  EXPECT_EQ(live, 0);
  (void)slab.create(7, &live);  // still live when the slab goes: destroyed with it
}

// Freed objects are handed out again (no malloc), up to the cap; each is constructed and destroyed.
TEST(ObjectCache, ReusesFreedObjectsUpToItsCap) {
  struct Obj {
    explicit Obj(int* live) : live(live) { ++*live; }
    ~Obj() { --*live; }
    int* live;
    char pad[40];
  };
  int live = 0;
  ObjectCache<Obj> cache(2);
  Obj* a = cache.create(&live);
  Obj* b = cache.create(&live);
  Obj* c = cache.create(&live);
  EXPECT_EQ(live, 3);
  cache.destroy(a);
  cache.destroy(b);
  cache.destroy(c);  // beyond the cap: back to the allocator
  EXPECT_EQ(live, 0);
  EXPECT_EQ(cache.free_count(), 2u);
  std::set<Obj*> again{cache.create(&live), cache.create(&live)};
  EXPECT_EQ(again, (std::set<Obj*>{a, b}));
  EXPECT_EQ(cache.free_count(), 0u);
  EXPECT_EQ(live, 2);
  for (Obj* o : again) cache.destroy(o);
}

// RefPtr: copies share the object, moves hand it over, and the last owner gone frees it.
struct Counted : RefCounted {
  explicit Counted(int* alive) : alive(alive) { ++*alive; }
  ~Counted() { --*alive; }
  int* alive;
};

TEST(RefPtr, TheLastOwnerFreesTheObject) {
  int alive = 0;
  RefPtr<Counted> a = make_ref<Counted>(&alive);
  EXPECT_EQ(alive, 1);
  EXPECT_EQ(a->ref_count(), 1u);
  {
    RefPtr<Counted> b = a;  // copy: a second owner
    EXPECT_EQ(a->ref_count(), 2u);
    EXPECT_TRUE(a == b);
    RefPtr<Counted> c = std::move(b);  // move: still two owners
    EXPECT_FALSE(b);
    EXPECT_EQ(c->ref_count(), 2u);
    RefPtr<Counted>& same = c;
    c = same;  // self-assignment keeps the object
    EXPECT_EQ(a->ref_count(), 2u);
  }
  EXPECT_EQ(a->ref_count(), 1u);
  EXPECT_EQ(alive, 1);
  RefPtr<Counted> d = make_ref<Counted>(&alive);
  EXPECT_EQ(alive, 2);
  d = a;  // the object d held loses its only owner
  EXPECT_EQ(alive, 1);
  EXPECT_EQ(a->ref_count(), 2u);
  a.reset();
  EXPECT_EQ(alive, 1);
  d = nullptr;
  EXPECT_EQ(alive, 0);
  EXPECT_TRUE(d == nullptr);
}

}  // namespace
}  // namespace ustack
