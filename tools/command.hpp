// Each subcommand of `sendpath` lives in its own tools/cmd_<name>.cpp and
// registers itself with a static Command object, so adding one needs no edit
// to main.cpp:
//
//   static sp::tools::Command cmd("skb", "walk one skb through a send",
//       [](CLI::App& sub) { ...add options...; return [=] { ...run...; return 0; }; });
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace sp::tools {

// setup() adds options to the subcommand and returns the action run when the
// subcommand is chosen; the action's return value is the exit status.
using Action = std::function<int()>;
using Setup = std::function<Action(CLI::App&)>;

struct CommandInfo {
  std::string name;
  std::string help;
  Setup setup;
};

std::vector<CommandInfo>& registry();

struct Command {
  Command(std::string name, std::string help, Setup setup) {
    registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace sp::tools
