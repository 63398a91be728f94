#include "netfilter/hooks.h"

#include <algorithm>

namespace ustack {

const char* nf_hook_name(NfHook h) {
  static constexpr const char* kNames[] = {"PRE_ROUTING", "LOCAL_IN", "FORWARD", "LOCAL_OUT", "POST_ROUTING"};
  return kNames[static_cast<size_t>(h)];
}

int NfHooks::register_hook(NfHook hook, int priority, HookFn fn) {
  auto& list = hooks_[static_cast<size_t>(hook)];
  int handle = next_handle_++;
  auto pos = std::upper_bound(list.begin(), list.end(), priority,
                              [](int p, const Entry& e) { return p < e.priority; });
  list.insert(pos, Entry{handle, priority, std::move(fn)});
  return handle;
}

void NfHooks::unregister(int handle) {
  for (auto& list : hooks_) std::erase_if(list, [handle](const Entry& e) { return e.handle == handle; });
}

bool NfHooks::run_slow(const std::vector<Entry>& list, SkBuff& skb, const NfHookState& state) {
  for (const Entry& e : list)
    if (e.fn(skb, state) == NfVerdict::kDrop) return false;
  return true;
}

}  // namespace ustack
