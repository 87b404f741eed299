#include "ctrl/notify/script_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace xlb::notify {
namespace {

std::string mode_text(mode_t mode) {
  return std::to_string((mode >> 6) & 7) + std::to_string((mode >> 3) & 7) + std::to_string(mode & 7);
}

bool unsafe_entry(const struct stat& st) {
  if (st.st_uid != 0) return true;  // a non-root owner can always chmod and rewrite
  if (st.st_gid != 0 && (st.st_mode & S_IWGRP)) return true;
  // A world-writable sticky directory (/tmp) lets nobody replace a root-owned entry in it; the
  // entry itself is checked next.
  if ((st.st_mode & S_IWOTH) && !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX))) return true;
  return false;
}

std::string check_chain(const std::string& path, bool follow_last) {
  std::string prefix;
  std::size_t pos = 0;
  std::vector<std::string> chain{"/"};
  while (pos < path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) {
      prefix += "/" + path.substr(pos, next - pos);
      chain.push_back(prefix);
    }
    pos = next + 1;
  }
  for (std::size_t i = 0; i < chain.size(); ++i) {
    struct stat st {};
    bool last = i + 1 == chain.size();
    int rc = (last && follow_last) ? ::stat(chain[i].c_str(), &st) : ::lstat(chain[i].c_str(), &st);
    if (rc < 0) return chain[i] + ": " + std::strerror(errno);
    if (S_ISLNK(st.st_mode)) continue;  // its directory was checked; its target is checked later
    if (unsafe_entry(st))
      return chain[i] + " is writable by a non-root user (owner uid " + std::to_string(st.st_uid) +
             ", gid " + std::to_string(st.st_gid) + ", mode " +
             mode_text(st.st_mode) + ")";
  }
  return {};
}

}  // namespace

std::vector<std::string> split_script_command(std::string_view s) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(std::move(word)), word.clear(), in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (++i == s.size()) throw std::invalid_argument("script ends with a backslash");
      word += s[i];
    } else if (c == '\'') {
      std::size_t end = s.find('\'', i + 1);
      if (end == std::string_view::npos) throw std::invalid_argument("unterminated ' in script");
      word.append(s.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i >= s.size()) throw std::invalid_argument("unterminated \" in script");
        if (s[i] == '"') break;
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\')) ++i;
        word += s[i];
      }
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) throw std::invalid_argument("empty script");
  return words;
}

std::string resolve_executable(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  std::string_view path = env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (true) {
    std::size_t colon = path.find(':');
    std::string dir(path.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) return {};
    path.remove_prefix(colon + 1);
  }
}

std::string script_security_problem(const std::string& path) {
  if (path.empty() || path[0] != '/') return "'" + path + "' is not an absolute path";
  if (auto why = check_chain(path, false); !why.empty()) return why;
  char real[PATH_MAX];
  if (!::realpath(path.c_str(), real)) return path + ": " + std::strerror(errno);
  if (auto why = check_chain(real, true); !why.empty()) return why;
  return {};
}

std::string executable_problem(const std::string& name, bool script_security, std::string& resolved) {
  resolved = resolve_executable(name);
  if (resolved.empty()) return name + ": not found in PATH";
  struct stat st {};
  if (::stat(resolved.c_str(), &st) != 0) return resolved + ": " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return resolved + ": not a regular file";
  if (::access(resolved.c_str(), X_OK) != 0) return resolved + ": not executable (mode " + mode_text(st.st_mode) + ")";
  if (script_security) {
    if (auto why = script_security_problem(resolved); !why.empty()) return "enable_script_security: " + why;
  }
  return {};
}

std::string script_file_problem(std::string_view command, bool script_security) {
  std::vector<std::string> argv;
  try {
    argv = split_script_command(command);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  std::string resolved;
  return executable_problem(argv[0], script_security, resolved);
}

}  // namespace xlb::notify
