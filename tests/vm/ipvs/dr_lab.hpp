// The DR topology inside the VM: the VM's own namespace is the director (IPVS lives there),
// a switch namespace with a bridge, one client and two real servers with the VIP on lo.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace xlb::vmtest {

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};
// Runs a shell command line and collects what it prints.
CommandResult run(const std::string& command);
// Runs and throws std::runtime_error with the output when the command fails.
std::string must(const std::string& command);

// A child process owned by the test: killed (SIGTERM, then waited for) on destruction.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv);
  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

 private:
  pid_t pid_ = -1;
};

class DrLab {
 public:
  static constexpr const char* kVip = "198.18.0.100";
  static constexpr const char* kReal1 = "198.18.0.138";
  static constexpr const char* kReal2 = "198.18.0.139";

  DrLab();  // builds everything and starts the two HTTP servers; throws on failure
  ~DrLab();
  DrLab(const DrLab&) = delete;
  DrLab& operator=(const DrLab&) = delete;

  // Adds a source address to the client (198.18.0.x/24) and returns it.
  std::string client_address(int host);
  // One HTTP GET of the VIP from the client, from the given source address. Returns the
  // name of the real server that answered, or "" on failure.
  std::string fetch_from(const std::string& source);
  // Stops the HTTP server of "rs1" or "rs2", as a crashed service would.
  void stop_server(const std::string& name);
  const std::string& dir() const { return dir_; }

 private:
  void build();
  void teardown() noexcept;
  void start_server(const std::string& ns, const std::string& name);
  std::string sw_, client_, rs1_, rs2_, director_if_, dir_;
  std::vector<std::pair<std::string, std::optional<ChildProcess>>> servers_;
};

}  // namespace xlb::vmtest
