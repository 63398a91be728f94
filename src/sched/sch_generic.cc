#include <algorithm>

#include "sched/qdisc.h"

namespace ustack {

SkbPtr PfifoFast::enqueue(SkbPtr skb) {
  if (qlen() >= limit_) {
    ++stats.drops;
    return skb;
  }
  size_t band = std::min<size_t>(skb->priority, kBands - 1);
  bands_[band].push_back(std::move(skb));
  ++stats.enqueued;
  stats.backlog_max = std::max<uint64_t>(stats.backlog_max, qlen());
  return nullptr;
}

SkbPtr PfifoFast::dequeue() {
  for (auto& b : bands_)
    if (!b.empty()) return b.pop_front();
  return nullptr;
}

void PfifoFast::requeue(SkbPtr skb) {
  size_t band = std::min<size_t>(skb->priority, kBands - 1);
  bands_[band].push_front(std::move(skb));
  ++stats.requeues;
}

size_t PfifoFast::qlen() const {
  size_t n = 0;
  for (auto& b : bands_) n += b.size();
  return n;
}

}  // namespace ustack
