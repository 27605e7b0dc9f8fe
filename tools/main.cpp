// sendpath: the command-line tool. Subcommands register themselves (command.hpp).
#include <algorithm>
#include <cstdio>
#include <map>

#include "command.hpp"

namespace sp::tools {
std::vector<CommandInfo>& registry() {
  static std::vector<CommandInfo> commands;
  return commands;
}
}  // namespace sp::tools

int main(int argc, char** argv) {
  CLI::App app{"sendpath: Linux's TCP send path in user space"};
  app.require_subcommand(1);
  auto& cmds = sp::tools::registry();
  std::sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<CLI::App*, sp::tools::Action> actions;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    actions[sub] = c.setup(*sub);
  }
  CLI11_PARSE(app, argc, argv);
  for (auto& [sub, action] : actions) {
    if (sub->parsed()) return action();
  }
  return 2;
}
