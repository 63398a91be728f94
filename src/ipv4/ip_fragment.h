// IPv4 reassembly (RFC 791, RFC 815; Linux net/ipv4/ip_fragment.c and inet_fragment.c). Fragments are
// queued per (source, destination, ID, protocol) in offset order. Overlapping fragments discard the whole
// datagram (as Linux does since the RFC 5722 rework: overlaps are an attack, not a repair); an exact
// duplicate is dropped alone. Memory is bounded by ipfrag_high_thresh across all queues, and a queue
// that is not complete within ipfrag_time is dropped with ICMP time exceeded if its first fragment came.
#pragma once

#include <memory>
#include <unordered_map>

#include "core/net.h"

namespace ustack {

class Ipv4;

class IpFragQueues {
 public:
  explicit IpFragQueues(Ipv4& ip) : ip_(ip) {}
  ~IpFragQueues();
  IpFragQueues(const IpFragQueues&) = delete;
  IpFragQueues& operator=(const IpFragQueues&) = delete;

  // ip_defrag: takes a fragment (data at the IP header, header validated). Returns the whole datagram,
  // data at its IP header, once the last missing piece arrives; nullptr until then.
  SkbPtr ip_defrag(SkbPtr skb);
  size_t queues() const { return queues_.size(); }
  size_t mem() const { return mem_; }

 private:
  struct Key {
    uint32_t saddr, daddr;
    uint16_t id;
    uint8_t protocol;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t h = (uint64_t{k.saddr} << 32 | k.daddr) * 0x9e3779b97f4a7c15ull;
      return static_cast<size_t>(h ^ (uint64_t{k.id} << 8 | k.protocol) * 0xc2b2ae3d27d4eb4full);
    }
  };
  struct Queue {
    IpFragQueues* fqdir = nullptr;  // for the timer (the kernel's inet_frag_queue->fqdir)
    Key key;
    SkbQueue frags;     // in offset order, data at the fragment's payload
    uint32_t len = 0;   // total payload length once the last fragment is in, else the highest end seen
    uint32_t meat = 0;  // payload bytes received
    bool first_in = false, last_in = false;
    size_t mem = 0;
    Timer timer;
  };
  enum class Insert { kQueued, kDuplicate, kCorrupt };

  Insert ip_frag_queue(Queue& q, SkbPtr& skb);
  SkbPtr ip_frag_reasm(Queue& q);
  void ip_expire(Queue& q);
  static void ip_expire_fn(Queue& q) { q.fqdir->ip_expire(q); }
  void kill(Queue& q);

  Ipv4& ip_;
  std::unordered_map<Key, std::unique_ptr<Queue>, KeyHash> queues_;
  size_t mem_ = 0;
};

}  // namespace ustack
