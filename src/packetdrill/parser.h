// A recursive-descent parser for the packetdrill script grammar that the public corpora use
// (packetdrill's parser.y): script options, events with absolute, relative, any and range times and
// blocking calls (`+0...0.1`), TCP packets with flags, seq start:end(len), ack, win, urg, ECN marks and
// options, system calls with expressions, expected results and errno, shell commands and %{ }% blocks.
// UDP/ICMP packet lines are recognised and kept as unsupported packets.
#pragma once

#include <string>
#include <string_view>

#include "packetdrill/lexer.h"
#include "packetdrill/script.h"

namespace ustack::drill {

// Throws ParseError (with the line) on a syntax error.
Script parse_script(std::string_view text, std::string path = "");

// "1.5" -> 1500000 microseconds.
int64_t parse_time_usecs(std::string_view number);

}  // namespace ustack::drill
