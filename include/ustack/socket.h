// The constants and small structs of the public socket API (include/ustack/ustack.h): socket types,
// option levels and names, message flags, poll(2) bits and shutdown modes, all with Linux's numeric
// values, so that code written against the kernel's BSD calls reads the same here. Address families
// (kAfInet, kAfUnspec) and SockAddrIn are in ustack/addr.h.
//
// The names live in ustack::api and are visible as ustack::kSockStream etc. (ustack.h brings them into
// ustack). They are spelled kName rather than SOCK_STREAM because <sys/socket.h> defines those as
// macros.
#pragma once

#include <cstdint>

namespace ustack::api {

// socket(2) types; kSockNonblock may be or-ed into the type (and is accept()'s flag).
inline constexpr int kSockStream = 1;
inline constexpr int kSockDgram = 2;
inline constexpr int kSockNonblock = 04000;

// Protocol numbers for socket()'s third argument (0 picks the type's protocol).
inline constexpr int kIpProtoTcp = 6;
inline constexpr int kIpProtoUdp = 17;

// setsockopt/getsockopt levels.
inline constexpr int kSolIp = 0;
inline constexpr int kSolSocket = 1;
inline constexpr int kSolTcp = 6;

// SOL_SOCKET options. kSoLinger takes a Linger, kSoRcvTimeo/kSoSndTimeo a Timeval; the rest take an int.
inline constexpr int kSoReuseAddr = 2;
inline constexpr int kSoError = 4;
inline constexpr int kSoBroadcast = 6;
inline constexpr int kSoSndBuf = 7;
inline constexpr int kSoRcvBuf = 8;
inline constexpr int kSoKeepAlive = 9;
inline constexpr int kSoLinger = 13;
inline constexpr int kSoRcvTimeo = 20;
inline constexpr int kSoSndTimeo = 21;

// SOL_TCP options (int-valued; kTcpCongestion takes the algorithm's name as bytes). TCP_INFO is offered
// as Host::tcp_info().
inline constexpr int kTcpNoDelay = 1;
inline constexpr int kTcpMaxSeg = 2;
inline constexpr int kTcpKeepIdle = 4;
inline constexpr int kTcpKeepIntvl = 5;
inline constexpr int kTcpKeepCnt = 6;
inline constexpr int kTcpQuickAck = 12;
inline constexpr int kTcpCongestion = 13;

// SOL_IP options (int-valued).
inline constexpr int kIpTos = 1;
inline constexpr int kIpTtl = 2;
inline constexpr int kIpMtuDiscover = 10;

// send/recv flags.
inline constexpr int kMsgPeek = 0x2;
inline constexpr int kMsgDontWait = 0x40;
inline constexpr int kMsgWaitAll = 0x100;
inline constexpr int kMsgNoSignal = 0x4000;

// shutdown(2) modes.
inline constexpr int kShutRd = 0;
inline constexpr int kShutWr = 1;
inline constexpr int kShutRdWr = 2;

// poll(2) event bits.
inline constexpr uint16_t kPollIn = 0x001;
inline constexpr uint16_t kPollPri = 0x002;
inline constexpr uint16_t kPollOut = 0x004;
inline constexpr uint16_t kPollErr = 0x008;
inline constexpr uint16_t kPollHup = 0x010;
inline constexpr uint16_t kPollNval = 0x020;
inline constexpr uint16_t kPollRdNorm = 0x040;
inline constexpr uint16_t kPollWrNorm = 0x100;
inline constexpr uint16_t kPollRdHup = 0x2000;

// struct pollfd.
struct PollFd {
  int fd = -1;
  uint16_t events = 0;
  uint16_t revents = 0;
};

// struct linger, for kSoLinger.
struct Linger {
  int l_onoff = 0;
  int l_linger = 0;  // seconds
};

// struct timeval, for kSoRcvTimeo and kSoSndTimeo ({0, 0}: wait for ever).
struct Timeval {
  int64_t tv_sec = 0;
  int64_t tv_usec = 0;
};

}  // namespace ustack::api

namespace ustack {
using namespace ustack::api;  // NOLINT(google-build-using-namespace)
}  // namespace ustack
