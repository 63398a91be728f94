// The trace facility: when switched on, each step of the data path prints one line naming the Linux
// function that our code implements there and the fields that matter. Off, a trace point costs one
// predictable branch; callers test on() before they format anything.
#pragma once

#include <cstdarg>
#include <functional>
#include <string>
#include <string_view>

namespace ustack {

class Tracer {
 public:
  using Sink = std::function<void(std::string_view line)>;
  bool on() const { return static_cast<bool>(sink_); }
  void set_sink(Sink s) { sink_ = std::move(s); }
  void set_prefix(std::string p) { prefix_ = std::move(p); }
  // One line: "<prefix>  <func>  <printf-formatted detail>".
  void emit(const char* func, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

 private:
  Sink sink_;
  std::string prefix_;
};

}  // namespace ustack
