// Netfilter-style hooks (Linux include/linux/netfilter.h): functions registered at the five IPv4 hook
// points, called in priority order, each returning accept or drop. With no hook registered a hook point
// costs one empty-vector test.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/skbuff.h"

namespace ustack {

enum class NfHook : uint8_t { kPreRouting, kLocalIn, kForward, kLocalOut, kPostRouting };
inline constexpr size_t kNfNumHooks = 5;
const char* nf_hook_name(NfHook h);

enum class NfVerdict : uint8_t { kAccept, kDrop };

struct NfHookState {
  NfHook hook;
  int in_ifindex = 0;   // receiving device, 0 for local output
  int out_ifindex = 0;  // sending device, 0 before routing and for local input
};

class NfHooks {
 public:
  using HookFn = std::function<NfVerdict(SkBuff& skb, const NfHookState& state)>;
  // nf_register_net_hook: lower priority runs first. Returns a handle for unregister().
  int register_hook(NfHook hook, int priority, HookFn fn);
  void unregister(int handle);
  // nf_hook: true if every hook accepted. The skb's data starts at the IP header.
  bool run(SkBuff& skb, const NfHookState& state) {
    auto& list = hooks_[static_cast<size_t>(state.hook)];
    if (list.empty()) return true;
    return run_slow(list, skb, state);
  }

 private:
  struct Entry {
    int handle;
    int priority;
    HookFn fn;
  };
  bool run_slow(const std::vector<Entry>& list, SkBuff& skb, const NfHookState& state);
  std::array<std::vector<Entry>, kNfNumHooks> hooks_;
  int next_handle_ = 1;
};

}  // namespace ustack
