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
  ++qlen_;
  ++stats.enqueued;
  stats.backlog_max = std::max<uint64_t>(stats.backlog_max, qlen_);
  return nullptr;
}

SkbPtr PfifoFast::dequeue() {
  if (qlen_ == 0) return nullptr;
  for (auto& b : bands_) {
    if (!b.empty()) {
      --qlen_;
      return b.pop_front();
    }
  }
  return nullptr;
}

void PfifoFast::requeue(SkbPtr skb) {
  size_t band = std::min<size_t>(skb->priority, kBands - 1);
  bands_[band].push_front(std::move(skb));
  ++qlen_;
  ++stats.requeues;
}

}  // namespace ustack
