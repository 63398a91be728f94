// The neighbour subsystem (Linux net/core/neighbour.c): next-hop address -> link-layer address, with the
// NUD state machine, a bounded queue of packets waiting for resolution (arp_queue), and a cached link
// header (hh_cache) that the fast path copies in front of each packet once the neighbour is known.
//
//   NONE --send--> INCOMPLETE --reply--> REACHABLE --reachable_time--> STALE --send--> DELAY
//                     |  probes exhausted                                              |
//                     v                                  confirmed <-- DELAY --delay_probe_time--> PROBE
//                   FAILED (queued packets get an error report)          PROBE --probes exhausted--> FAILED
//
// The table is protocol-neutral: a NeighOps supplies solicit() (send an ARP request) and error_report()
// (tell the sender of a queued packet that the host is unreachable).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "core/net.h"
#include "dev/net_device.h"
#include "ustack/addr.h"
#include "ustack/result.h"

namespace ustack {

class DevCore;

enum class NudState : uint8_t {
  kNone,
  kIncomplete,
  kReachable,
  kStale,
  kDelay,
  kProbe,
  kFailed,
  kNoArp,
  kPermanent
};
const char* nud_state_name(NudState s);

// Timings and limits, with Linux's defaults (net.ipv4.neigh.default.*).
struct NeighParms {
  Duration base_reachable_time = 30s;
  Duration retrans_time = 1s;
  Duration delay_first_probe_time = 5s;
  Duration gc_staletime = 60s;
  Duration gc_interval = 30s;
  uint32_t ucast_probes = 3;
  uint32_t mcast_probes = 3;
  uint32_t app_probes = 0;
  size_t queue_len_bytes = 212992;  // unres_qlen_bytes
  size_t gc_thresh3 = 1024;         // hard limit on entries
};

class Neighbour;
class NeighTable;

struct NeighOps {
  // Send a solicitation; `unicast` to the cached address when probing an entry we already know.
  std::function<void(Neighbour&, bool unicast)> solicit;
  // A packet queued on a neighbour that failed: report it to its sender, then it is dropped.
  std::function<void(Neighbour&, SkBuff&)> error_report;
};

class Neighbour {
 public:
  Neighbour(NeighTable& tbl, Ipv4Addr key, NetDevice& dev) : tbl_(&tbl), key_(key), dev_(&dev) {}
  Neighbour(const Neighbour&) = delete;
  Neighbour& operator=(const Neighbour&) = delete;

  Ipv4Addr key() const { return key_; }
  NetDevice& dev() const { return *dev_; }
  NudState nud_state() const { return nud_; }
  const MacAddr& ha() const { return ha_; }
  bool valid() const {
    return nud_ == NudState::kReachable || nud_ == NudState::kStale || nud_ == NudState::kDelay ||
           nud_ == NudState::kProbe || nud_ == NudState::kNoArp || nud_ == NudState::kPermanent;
  }
  bool connected() const {
    return nud_ == NudState::kReachable || nud_ == NudState::kNoArp || nud_ == NudState::kPermanent;
  }
  size_t queued() const { return arp_queue_.size(); }
  uint32_t probes() const { return probes_; }
  // Removed from its table: holders (route results) must look the next hop up again.
  bool dead() const { return dead_; }

 private:
  friend class NeighTable;
  NeighTable* tbl_;  // for the timer (the kernel's neighbour->tbl)
  Ipv4Addr key_;
  NetDevice* dev_;
  NudState nud_ = NudState::kNone;
  MacAddr ha_;
  std::array<std::byte, 16> hh_{};  // the cached Ethernet header, hh_len_ bytes
  uint8_t hh_len_ = 0;
  SkbQueue arp_queue_;
  uint32_t probes_ = 0;
  TimePoint confirmed_{};
  TimePoint updated_{};
  TimePoint used_{};
  Timer timer_;
  bool dead_ = false;
};

struct NeighStats {
  uint64_t allocs = 0, destroys = 0, lookups = 0, hits = 0, res_failed = 0, unres_discards = 0, forced_gc = 0;
};

class NeighTable {
 public:
  NeighTable(NetCore& net, DevCore& dev, NeighOps ops, NeighParms parms = {});
  ~NeighTable();
  NeighTable(const NeighTable&) = delete;
  NeighTable& operator=(const NeighTable&) = delete;

  std::shared_ptr<Neighbour> lookup(Ipv4Addr key, const NetDevice& dev) const;
  // __neigh_lookup(create=1): nullptr only when the table is full even after garbage collection.
  std::shared_ptr<Neighbour> lookup_or_create(Ipv4Addr key, NetDevice& dev);
  // A neighbour whose link address follows from the network address (broadcast, multicast): NOARP.
  std::shared_ptr<Neighbour> lookup_or_create_noarp(Ipv4Addr key, NetDevice& dev, const MacAddr& lladdr);

  // neigh_output: the skb's data starts at the network header. Resolved neighbours take the fast path
  // (cached header, dev_queue_xmit); others park the packet and resolve (neigh_resolve_output).
  Status neigh_output(Neighbour& n, SkbPtr skb);

  // neigh_update: a link-layer address learned from the wire. `confirmed` (a reply addressed to us)
  // makes the entry REACHABLE, otherwise it becomes STALE if the address changed or the entry was new.
  void neigh_update(Neighbour& n, const MacAddr& lladdr, bool confirmed);
  // Upper-layer reachability confirmation (dst_confirm / TCP ACK progress).
  void neigh_confirm(Neighbour& n) { n.confirmed_ = net_.now(); }
  // ip neigh add ... nud permanent: a static entry that never expires.
  void neigh_add_permanent(Ipv4Addr key, NetDevice& dev, const MacAddr& lladdr);
  // Forget every entry on `dev` (address or link change).
  void flush_dev(const NetDevice& dev);

  size_t size() const { return entries_.size(); }
  const NeighParms& parms() const { return parms_; }
  NeighParms& parms() { return parms_; }
  Duration reachable_time() const { return reachable_time_; }
  const NeighStats& stats() const { return stats_; }
  template <class F>
  void for_each(F&& f) const {
    for (auto& [k, n] : entries_) f(*n);
  }

 private:
  struct Key {
    uint32_t addr;
    int ifindex;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<Ipv4Addr>{}(Ipv4Addr{k.addr}) ^ size_t(k.ifindex);
    }
  };

  void set_state(Neighbour& n, NudState s);
  void timer_handler(Neighbour& n);
  // The timers' entry points: a neighbour reaches its table through tbl_.
  static void neigh_timer_handler(Neighbour& n) { n.tbl_->timer_handler(n); }
  static void neigh_periodic_work(NeighTable& tbl) { tbl.periodic_gc(); }
  void neigh_connect_output(Neighbour& n);
  void enqueue_unresolved(Neighbour& n, SkbPtr skb);
  Status xmit_resolved(Neighbour& n, SkbPtr skb);
  void update_hh(Neighbour& n);
  void invalidate(Neighbour& n);
  uint32_t max_probes(const Neighbour& n) const;
  void periodic_gc();
  bool forced_gc();
  Duration random_reachable_time();

  NetCore& net_;
  DevCore& dev_;
  NeighOps ops_;
  NeighParms parms_;
  Duration reachable_time_;
  TimePoint reachable_time_set_{};
  std::unordered_map<Key, std::shared_ptr<Neighbour>, KeyHash> entries_;
  Timer gc_timer_;
  NeighStats stats_;
};

}  // namespace ustack
