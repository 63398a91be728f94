#include "core/trace.h"

#include <cstdio>

namespace ustack {

void Tracer::emit(const char* func, const char* fmt, ...) {
  if (!sink_) return;
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  char line[640];
  std::snprintf(line, sizeof line, "%s%-24s %s", prefix_.c_str(), func, detail);
  sink_(line);
}

}  // namespace ustack
