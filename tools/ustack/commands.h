#pragma once

namespace ustack::cli {

int cmd_ping(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_connect(int argc, char** argv);
int cmd_drill(int argc, char** argv);

}  // namespace ustack::cli
