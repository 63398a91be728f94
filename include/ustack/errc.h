// Error codes: Linux errno values, so that a failure reads the same as it would from the kernel.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ustack {

// Every errno value fits in a byte, and a sock keeps two of them.
enum class Errc : uint8_t {
  kOk = 0,
  kPerm = EPERM,
  kNoEnt = ENOENT,
  kIntr = EINTR,
  kIo = EIO,
  kBadFd = EBADF,
  kAgain = EAGAIN,
  kNoMem = ENOMEM,
  kAccess = EACCES,
  kFault = EFAULT,
  kBusy = EBUSY,
  kExist = EEXIST,
  kNoDev = ENODEV,
  kInval = EINVAL,
  kMFile = EMFILE,
  kNoSpc = ENOSPC,
  kPipe = EPIPE,
  kRange = ERANGE,
  kDom = EDOM,
  kNotSock = ENOTSOCK,
  kDestAddrReq = EDESTADDRREQ,
  kMsgSize = EMSGSIZE,
  kProtoType = EPROTOTYPE,
  kNoProtoOpt = ENOPROTOOPT,
  kProtoNoSupport = EPROTONOSUPPORT,
  kOpNotSupp = EOPNOTSUPP,
  kAfNoSupport = EAFNOSUPPORT,
  kAddrInUse = EADDRINUSE,
  kAddrNotAvail = EADDRNOTAVAIL,
  kNetDown = ENETDOWN,
  kNetUnreach = ENETUNREACH,
  kConnAborted = ECONNABORTED,
  kConnReset = ECONNRESET,
  kNoBufs = ENOBUFS,
  kIsConn = EISCONN,
  kNotConn = ENOTCONN,
  kTimedOut = ETIMEDOUT,
  kConnRefused = ECONNREFUSED,
  kHostDown = EHOSTDOWN,
  kHostUnreach = EHOSTUNREACH,
  kAlready = EALREADY,
  kInProgress = EINPROGRESS,
  kProto = EPROTO,
};

// The errno name, e.g. "EHOSTUNREACH", for messages and traces.
std::string_view errc_name(Errc e);

inline const char* errc_message(Errc e) { return std::strerror(static_cast<int>(e)); }

}  // namespace ustack
