#include "neigh/neighbour.h"

#include "dev/dev.h"
#include "wire/ethernet.h"

namespace ustack {

const char* nud_state_name(NudState s) {
  switch (s) {
    case NudState::kNone:
      return "NONE";
    case NudState::kIncomplete:
      return "INCOMPLETE";
    case NudState::kReachable:
      return "REACHABLE";
    case NudState::kStale:
      return "STALE";
    case NudState::kDelay:
      return "DELAY";
    case NudState::kProbe:
      return "PROBE";
    case NudState::kFailed:
      return "FAILED";
    case NudState::kNoArp:
      return "NOARP";
    case NudState::kPermanent:
      return "PERMANENT";
  }
  return "?";
}

NeighTable::NeighTable(NetCore& net, DevCore& dev, NeighOps ops, NeighParms parms)
    : net_(net), dev_(dev), ops_(std::move(ops)), parms_(parms), reachable_time_(random_reachable_time()) {
  gc_timer_.setup<neigh_periodic_work>(*this);
  net_.mod_timer(gc_timer_, parms_.gc_interval);
}

NeighTable::~NeighTable() {
  for (auto& [k, n] : entries_) {
    net_.timers.del_timer(n->timer_);
    n->dead_ = true;
  }
}

// neigh_rand_reach_time: uniformly in [base/2, 3*base/2), so that hosts do not probe in lockstep.
Duration NeighTable::random_reachable_time() {
  auto base = parms_.base_reachable_time.count();
  return Duration(base / 2 + static_cast<int64_t>(net_.rng.uniform() * double(base)));
}

std::shared_ptr<Neighbour> NeighTable::lookup(Ipv4Addr key, const NetDevice& dev) const {
  auto it = entries_.find(Key{key.to_u32(), dev.ifindex()});
  return it == entries_.end() ? nullptr : it->second;
}

std::shared_ptr<Neighbour> NeighTable::lookup_or_create(Ipv4Addr key, NetDevice& dev) {
  ++stats_.lookups;
  Key k{key.to_u32(), dev.ifindex()};
  if (auto it = entries_.find(k); it != entries_.end()) {
    ++stats_.hits;
    return it->second;
  }
  if (entries_.size() >= parms_.gc_thresh3 && !forced_gc()) return nullptr;
  auto n = std::make_shared<Neighbour>(*this, key, dev);
  n->timer_.setup<neigh_timer_handler>(*n);
  n->updated_ = n->used_ = net_.now();
  if (dev.flags() & (kIffNoArp | kIffLoopback)) {
    n->ha_ = dev.dev_addr();
    n->nud_ = NudState::kNoArp;
    update_hh(*n);
  }
  ++stats_.allocs;
  entries_.emplace(k, n);
  return n;
}

std::shared_ptr<Neighbour> NeighTable::lookup_or_create_noarp(Ipv4Addr key, NetDevice& dev,
                                                              const MacAddr& lladdr) {
  auto n = lookup_or_create(key, dev);
  if (n && n->nud_ != NudState::kNoArp) {
    n->ha_ = lladdr;
    set_state(*n, NudState::kNoArp);
    net_.timers.del_timer(n->timer_);
    update_hh(*n);
    neigh_connect_output(*n);
  }
  return n;
}

void NeighTable::neigh_add_permanent(Ipv4Addr key, NetDevice& dev, const MacAddr& lladdr) {
  auto n = lookup_or_create(key, dev);
  if (!n) return;
  n->ha_ = lladdr;
  set_state(*n, NudState::kPermanent);
  update_hh(*n);
  neigh_connect_output(*n);
}

void NeighTable::update_hh(Neighbour& n) {
  wire::EthHdr eth{n.ha_, n.dev_->dev_addr(), wire::kEthPIp};
  eth.emit(n.hh_.data());
  n.hh_len_ = wire::kEthHeaderLen;
}

void NeighTable::set_state(Neighbour& n, NudState s) {
  if (n.nud_ == s) return;
  if (net_.trace.on()) {
    net_.trace.emit("neigh_update", "%s dev=%s %s -> %s", n.key_.to_string().c_str(), n.dev_->name().c_str(),
                    nud_state_name(n.nud_), nud_state_name(s));
  }
  n.nud_ = s;
  n.updated_ = net_.now();
}

Status NeighTable::xmit_resolved(Neighbour& n, SkbPtr skb) {
  // neigh_hh_output: copy the cached link header into the headroom.
  if (skb->headroom() < n.hh_len_) skb->expand_head(n.dev_->ll_reserved_space());
  auto h = skb->push(n.hh_len_);
  std::memcpy(h.data(), n.hh_.data(), n.hh_len_);
  skb->reset_mac_header();
  skb->ifindex = n.dev_->ifindex();
  skb->protocol = wire::kEthPIp;
  return dev_.dev_queue_xmit(std::move(skb));
}

// flatten: xmit_resolved, the common case, without a call of its own per packet.
[[gnu::flatten]] Status NeighTable::neigh_output(Neighbour& n, SkbPtr skb) {
  n.used_ = net_.now();
  if (net_.trace.on()) {
    net_.trace.emit(n.connected() ? "neigh_hh_output" : "neigh_resolve_output", "nexthop=%s nud=%s lladdr=%s",
                    n.key_.to_string().c_str(), nud_state_name(n.nud_),
                    n.valid() ? n.ha_.to_string().c_str() : "(unresolved)");
  }
  if (n.connected()) return xmit_resolved(n, std::move(skb));
  // neigh_event_send.
  switch (n.nud_) {
    case NudState::kStale:
      set_state(n, NudState::kDelay);
      net_.mod_timer(n.timer_, parms_.delay_first_probe_time);
      return xmit_resolved(n, std::move(skb));
    case NudState::kDelay:
    case NudState::kProbe:
      return xmit_resolved(n, std::move(skb));
    case NudState::kNone:
    case NudState::kFailed:
      // Linux counts the first ucast_probes as already spent: an unresolved entry is solicited by
      // broadcast only, mcast_probes times, the first at once.
      n.probes_ = parms_.ucast_probes + 1;
      set_state(n, NudState::kIncomplete);
      net_.mod_timer(n.timer_, parms_.retrans_time);
      enqueue_unresolved(n, std::move(skb));
      ops_.solicit(n, false);
      return {};
    case NudState::kIncomplete:
      enqueue_unresolved(n, std::move(skb));
      return {};
    default:
      return xmit_resolved(n, std::move(skb));
  }
}

// The arp_queue is bounded in bytes; the oldest packets make room for the newest.
void NeighTable::enqueue_unresolved(Neighbour& n, SkbPtr skb) {
  while (!n.arp_queue_.empty() && n.arp_queue_.bytes() + skb->len() > parms_.queue_len_bytes) {
    ++stats_.unres_discards;
    net_.mib.inc(Mib::ArpUnresolvedDiscards);
    kfree_skb(net_, n.arp_queue_.pop_front(), DropReason::NEIGH_QUEUEFULL);
  }
  n.arp_queue_.push_back(std::move(skb));
}

void NeighTable::neigh_connect_output(Neighbour& n) {
  // Send what waited for the address, in order.
  while (!n.arp_queue_.empty() && n.valid()) (void)xmit_resolved(n, n.arp_queue_.pop_front());
}

void NeighTable::neigh_update(Neighbour& n, const MacAddr& lladdr, bool confirmed) {
  if (n.nud_ == NudState::kNoArp || n.nud_ == NudState::kPermanent) return;
  bool changed = !n.valid() || n.ha_ != lladdr;
  if (changed) {
    n.ha_ = lladdr;
    update_hh(n);
  }
  if (confirmed) {
    n.confirmed_ = net_.now();
    set_state(n, NudState::kReachable);
    net_.mod_timer(n.timer_, reachable_time_);
  } else if (changed) {
    set_state(n, NudState::kStale);
    net_.timers.del_timer(n.timer_);
  }
  n.probes_ = 0;
  neigh_connect_output(n);
}

uint32_t NeighTable::max_probes(const Neighbour& n) const {
  uint32_t m = parms_.ucast_probes + parms_.app_probes;
  if (n.nud_ != NudState::kProbe) m += parms_.mcast_probes;
  return m;
}

void NeighTable::timer_handler(Neighbour& n) {
  TimePoint now = net_.now();
  switch (n.nud_) {
    case NudState::kReachable:
      if (now < n.confirmed_ + reachable_time_) {
        net_.timers.mod_timer(n.timer_, n.confirmed_ + reachable_time_);
      } else if (now < n.used_ + parms_.delay_first_probe_time) {
        set_state(n, NudState::kDelay);
        net_.mod_timer(n.timer_, parms_.delay_first_probe_time);
      } else {
        set_state(n, NudState::kStale);
      }
      return;
    case NudState::kDelay:
      if (now < n.confirmed_ + parms_.delay_first_probe_time) {
        set_state(n, NudState::kReachable);
        net_.timers.mod_timer(n.timer_, n.confirmed_ + reachable_time_);
        return;
      }
      set_state(n, NudState::kProbe);
      n.probes_ = 0;
      break;
    case NudState::kIncomplete:
    case NudState::kProbe:
      if (n.probes_ >= max_probes(n)) {
        set_state(n, NudState::kFailed);
        ++stats_.res_failed;
        invalidate(n);
        return;
      }
      break;
    default:
      return;
  }
  // INCOMPLETE or PROBE: solicit again (unicast while unicast probes remain, as arp_solicit chooses).
  bool unicast = n.nud_ == NudState::kProbe && n.probes_ < parms_.ucast_probes;
  ++n.probes_;
  net_.mod_timer(n.timer_, parms_.retrans_time);
  ops_.solicit(n, unicast);
}

// neigh_invalidate: every packet that waited reports the failure to its sender and is dropped.
void NeighTable::invalidate(Neighbour& n) {
  while (!n.arp_queue_.empty()) {
    SkbPtr skb = n.arp_queue_.pop_front();
    if (ops_.error_report) ops_.error_report(n, *skb);
    kfree_skb(net_, std::move(skb), DropReason::NEIGH_FAILED);
  }
}

void NeighTable::flush_dev(const NetDevice& dev) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Neighbour& n = *it->second;
    if (n.dev_ == &dev) {
      net_.timers.del_timer(n.timer_);
      n.dead_ = true;
      n.arp_queue_.purge();
      ++stats_.destroys;
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void NeighTable::periodic_gc() {
  TimePoint now = net_.now();
  // Linux re-randomises reachable_time every 300 s.
  if (now - reachable_time_set_ >= 300s) {
    reachable_time_ = random_reachable_time();
    reachable_time_set_ = now;
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    Neighbour& n = *it->second;
    // A cached route holding the entry does not keep it alive: the route sees dead() and looks the next
    // hop up again. (Routes hold their next hop for as long as they are cached, so a reference count
    // test would keep failed and stale entries for ever.)
    bool expired =
        n.nud_ == NudState::kFailed ||
        ((n.nud_ == NudState::kStale || n.nud_ == NudState::kNone) && now - n.used_ > parms_.gc_staletime);
    if (expired) {
      net_.timers.del_timer(n.timer_);
      n.dead_ = true;
      ++stats_.destroys;
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  net_.mod_timer(gc_timer_, parms_.gc_interval);
}

bool NeighTable::forced_gc() {
  ++stats_.forced_gc;
  size_t before = entries_.size();
  for (auto it = entries_.begin(); it != entries_.end();) {
    Neighbour& n = *it->second;
    // Failed, stale and unused entries go even if a cached route still points at them (see periodic_gc).
    bool idle = it->second.use_count() == 1 || n.nud_ == NudState::kFailed || n.nud_ == NudState::kStale ||
                n.nud_ == NudState::kNone;
    if (idle && n.nud_ != NudState::kPermanent && n.nud_ != NudState::kIncomplete) {
      net_.timers.del_timer(n.timer_);
      n.dead_ = true;
      ++stats_.destroys;
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return entries_.size() < before;
}

}  // namespace ustack
