// A notify or check script as a file: how keepalived splits its command line, where PATH finds
// it, and whether it can and may run (enable_script_security). Shared by the script runner and
// by `xlbd -t`, so that both say the same thing about the same file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace xlb::notify {

// Splits a keepalived script string into argv. Throws std::invalid_argument on an unterminated
// quote or an empty command.
std::vector<std::string> split_script_command(std::string_view command);

// PATH lookup as execvp() would do it, done before fork so that the security check and the
// child see the same file. Returns the argument unchanged when it contains a '/'.
// Empty when nothing executable was found.
std::string resolve_executable(const std::string& name);

// enable_script_security's rule for one executable (after resolve_executable). Returns an
// empty string when the file is safe, else a sentence saying which path element is unsafe.
std::string script_security_problem(const std::string& path);

// Why the program `name` (argv[0]) would not run, in words; empty when it would, and then
// `resolved` is the file to execute.
std::string executable_problem(const std::string& name, bool script_security, std::string& resolved);

// Why `command` would not run, in words ("/apps/notify.sh: No such file or directory", "...:
// not executable (mode 644)", "enable_script_security: ..."); empty when it would.
std::string script_file_problem(std::string_view command, bool script_security);

}  // namespace xlb::notify
