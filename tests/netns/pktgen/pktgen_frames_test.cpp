// xlb-pktgen sends what it claims: frames captured by tcpdump on the peer of its veth (which
// runs a pass program, or the frames would be dropped) are counted and parsed here with this
// test's own parser and checksum code, and compared with the generator's JSON summary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pcap.hpp"
#include "tools/pktgen/live_frames.hpp"

extern char** environ;

namespace xlb::pktgen::test {
namespace {

namespace fs = std::filesystem;

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string read_text_of_command(const std::string& command) {
  std::string text;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p)) text += buf;
    ::pclose(p);
  }
  return text;
}

fs::path binary_dir() {
  const char* dir = std::getenv("XLB_BINARY_DIR");
  return dir ? fs::path(dir) : fs::current_path();
}

// A child process we started, stopped by pid (SIGTERM unless told otherwise) and reaped.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const fs::path& stdout_file, const fs::path& stderr_file) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~Child() { stop(SIGTERM); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // True when the child exited by itself within the timeout.
  bool wait_for(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pid_ <= 0;
  }

  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// Two namespaces joined by a veth; the peer end runs the pass program so that it receives
// what xlb-pktgen sends with XDP_TX. Everything goes when the namespaces go.
class Lab {
 public:
  Lab() {
    std::random_device rd;
    suffix_ = std::to_string(::getpid() % 100000) + std::to_string(rd() % 100);
    gen_ns_ = "xlbpg-g-" + suffix_;
    peer_ns_ = "xlbpg-p-" + suffix_;
    gen_if_ = "pg" + suffix_;
    peer_if_ = "pp" + suffix_;
    dir_ = fs::temp_directory_path() / ("xlb-pktgen-test-" + suffix_);
    fs::create_directories(dir_);
  }
  ~Lab() {
    sh("ip netns del " + gen_ns_ + " 2>/dev/null");
    sh("ip netns del " + peer_ns_ + " 2>/dev/null");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  // Returns an error text, empty on success.
  // with_pass: the peer gets the pass program; otherwise the test attaches its own.
  std::string build(bool with_pass = true) {
    const fs::path pass = binary_dir() / "bpf" / "pass.bpf.o";
    const std::vector<std::string> steps = {
        "ip netns add " + gen_ns_,
        "ip netns add " + peer_ns_,
        "ip link add " + gen_if_ + " numtxqueues 2 numrxqueues 2 netns " + gen_ns_ + " type veth peer name " +
            peer_if_ + " numtxqueues 2 numrxqueues 2 netns " + peer_ns_,
        // Without IPv6 the links carry nothing but the generator's frames.
        "ip netns exec " + gen_ns_ + " sysctl -qw net.ipv6.conf." + gen_if_ + ".disable_ipv6=1",
        "ip netns exec " + peer_ns_ + " sysctl -qw net.ipv6.conf." + peer_if_ + ".disable_ipv6=1",
        "ip -n " + gen_ns_ + " link set " + gen_if_ + " up",
        "ip -n " + peer_ns_ + " link set " + peer_if_ + " up",
        "ip -n " + peer_ns_ + " link set dev " + peer_if_ + " xdpdrv obj " + pass.string() + " sec xdp",
    };
    for (std::size_t i = 0; i < steps.size() - (with_pass ? 0 : 1); ++i) {
      if (sh(steps[i]) != 0) return "failed: " + steps[i];
    }
    return {};
  }

  // Runs xlb-pktgen-target on the peer (balancer or minimal), then xlb-pktgen with its sink on
  // its own interface; returns the generator's summary and the target's last report.
  struct Bounce {
    int rc = -1;
    nlohmann::json summary;
    nlohmann::json target_exit;
    std::string stderr_text;
  };
  Bounce bounce_through(const std::string& program, const std::string& pktgen_args,
                        const std::vector<std::string>& target_args = {}) {
    Bounce out;
    const fs::path target_out = dir_ / "target.out", target_err = dir_ / "target.err";
    const fs::path target = binary_dir() / "tools" / "pktgen" / "xlb-pktgen-target";
    std::vector<std::string> command = {"ip", "netns", "exec", peer_ns_, target.string(), "--dev", peer_if_,
                                        "--program", program, "--vip", "198.18.1.1", "--port", "80", "--proto", "udp",
                                        "--reals", "3", "--max-flows", "65536"};
    command.insert(command.end(), target_args.begin(), target_args.end());
    Child child(command, target_out, target_err);
    for (int i = 0; i < 100 && read_text(target_out).find("\"ready\"") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (read_text(target_out).find("\"ready\"") == std::string::npos) {
      out.stderr_text = "target did not come up: " + read_text(target_err);
      return out;
    }
    const fs::path json = dir_ / "summary.json", err = dir_ / "pktgen.err";
    const fs::path pktgen = binary_dir() / "tools" / "pktgen" / "xlb-pktgen";
    out.rc = sh("ip netns exec " + gen_ns_ + " " + pktgen.string() + " --dev " + gen_if_ + " --sink-dev " + gen_if_ +
                " --dst-mac " + peer_mac() + " --dst 198.18.1.1 --dport 80 --proto udp --quiet " + pktgen_args + " >" +
                json.string() + " 2>" + err.string());
    out.stderr_text = read_text(err);
    if (out.rc == 0) out.summary = nlohmann::json::parse(read_text(json));
    child.stop(SIGTERM);
    std::istringstream lines(read_text(target_out));
    for (std::string line; std::getline(lines, line);) {
      if (line.find("\"exit\"") != std::string::npos) out.target_exit = nlohmann::json::parse(line);
    }
    return out;
  }

  std::string peer_mac() const { return mac_of(peer_ns_, peer_if_); }

  // For xlb-pktgen-target --tunnel: the reals' addresses (198.18.2.1-3) routed out of the
  // peer's veth to the generator's MAC, and forwarding on there (the FIB lookup asks for it).
  std::string route_reals_to_generator() {
    const std::string gen_mac = mac_of(gen_ns_, gen_if_);
    std::vector<std::string> steps = {
        "ip netns exec " + peer_ns_ + " sysctl -qw net.ipv4.conf." + peer_if_ + ".forwarding=1",
        "ip -n " + peer_ns_ + " addr add 198.18.2.254/24 dev " + peer_if_,
    };
    for (int n = 1; n <= 3; ++n) {
      steps.push_back("ip -n " + peer_ns_ + " neigh replace 198.18.2." + std::to_string(n) + " lladdr " + gen_mac +
                      " dev " + peer_if_ + " nud permanent");
    }
    for (const auto& step : steps) {
      if (sh(step) != 0) return "failed: " + step;
    }
    return {};
  }

  // Captures on the peer while xlb-pktgen runs. tcpdump stops by itself after `expected`
  // frames (a capture stopped by a signal loses what is still in its ring); the peer's own
  // receive counter tells whether more than that arrived.
  struct Outcome {
    int rc = -1;
    nlohmann::json summary;
    std::string stderr_text;
    std::string capture_text;
    std::uint64_t peer_rx_packets = 0;
    std::vector<std::vector<std::uint8_t>> frames;
  };
  Outcome capture_while_sending(const std::string& pktgen_args, std::size_t expected) {
    const std::uint64_t rx_before = peer_rx_packets();
    const fs::path pcap = dir_ / "capture.pcap", capture_err = dir_ / "tcpdump.err";
    Child tcpdump({"ip", "netns", "exec", peer_ns_, "tcpdump", "-i", peer_if_, "-n", "-U", "--immediate-mode", "-s", "2048", "-B", "8192",
                   "-c", std::to_string(expected ? expected : 1), "-w", pcap.string()},
                  dir_ / "tcpdump.out", capture_err);
    for (int i = 0; i < 100 && read_text(capture_err).find("listening on") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Outcome out;
    const fs::path json = dir_ / "summary.json", err = dir_ / "pktgen.err";
    const fs::path pktgen = binary_dir() / "tools" / "pktgen" / "xlb-pktgen";
    out.rc = sh("ip netns exec " + gen_ns_ + " " + pktgen.string() + " --dev " + gen_if_ + " --dst-mac " + peer_mac() +
                " --quiet " + pktgen_args + " >" + json.string() + " 2>" + err.string());
    out.stderr_text = read_text(err);
    // The last frames may still be on their way through the peer's stack to the capture.
    if (!tcpdump.wait_for(std::chrono::seconds(expected ? 10 : 1))) tcpdump.stop(SIGINT);
    out.capture_text = read_text(capture_err);
    out.peer_rx_packets = peer_rx_packets() - rx_before;
    if (out.rc == 0) out.summary = nlohmann::json::parse(read_text(json));
    out.frames = read_pcap(pcap);
    return out;
  }

 private:
  std::uint64_t peer_rx_packets() const {
    std::string text = read_text_in(peer_ns_, "/sys/class/net/" + peer_if_ + "/statistics/rx_packets");
    return text.empty() ? 0 : std::stoull(text);
  }

  std::string mac_of(const std::string& ns, const std::string& dev) const {
    std::string mac = read_text_in(ns, "/sys/class/net/" + dev + "/address");
    while (!mac.empty() && (mac.back() == '\n' || mac.back() == ' ')) mac.pop_back();
    return mac;
  }

  std::string read_text_in(const std::string& ns, const std::string& file) const {
    const fs::path out = dir_ / "read.txt";
    sh("ip netns exec " + ns + " cat " + file + " >" + out.string());
    return read_text(out);
  }

  std::string suffix_, gen_ns_, peer_ns_, gen_if_, peer_if_;
  fs::path dir_;
};

// Asked once per run: a kernel that refuses live frames refuses them to every test alike.
const LiveFramesProbe& live_frames() {
  static const LiveFramesProbe probe = probe_live_frames();
  return probe;
}

class PktgenFrames : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, XDP and BPF_PROG_TEST_RUN";
    if (sh("command -v tcpdump >/dev/null") != 0) GTEST_SKIP() << "tcpdump is not installed";
    // Only a refusal skips, in xlb-pktgen's own words; where the probe works, a failed send
    // fails the test as before.
    if (sends() && !live_frames().works()) GTEST_SKIP() << live_frames().sentence();
    lab_ = std::make_unique<Lab>();
    std::string error = lab_->build();
    ASSERT_TRUE(error.empty()) << error;
  }
  virtual bool sends() const { return true; }
  std::unique_ptr<Lab> lab_;
};

// Arguments refused before the generator asks the kernel for anything: these run everywhere.
class PktgenArguments : public PktgenFrames {
 protected:
  bool sends() const override { return false; }
};

std::string mac_text(const std::uint8_t* mac) {
  char text[18];
  std::snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return text;
}

TEST_F(PktgenFrames, Ipv4UdpFlowsAndRateAreWhatTheSummarySays) {
  auto out = lab_->capture_while_sending(
      "--dst 198.18.1.1 --dport 80 --proto udp --size 64 --flows 100 --src-addrs 4 --src-port 1024 "
      "--count 1000 --rate 2000 --cpus 0",
      1000);
  ASSERT_EQ(out.rc, 0) << out.stderr_text;
  EXPECT_EQ(out.summary["packets"], 1000);
  EXPECT_EQ(out.summary["program_generated"], 1000);
  // 1000 frames at 2000 pps cannot take less than half a second, whatever the machine.
  EXPECT_GE(out.summary["seconds"].get<double>(), 0.45);

  const std::string peer_mac = lab_->peer_mac();
  std::set<std::pair<std::string, std::uint16_t>> flows;
  std::size_t ours = 0;
  for (const auto& raw : out.frames) {
    auto frame = parse_frame(raw);
    if (!frame || frame->dst != "198.18.1.1") continue;
    ++ours;
    EXPECT_EQ(frame->length, 60u);  // 64 on the wire with the FCS
    EXPECT_EQ(mac_text(frame->dst_mac), peer_mac);
    EXPECT_EQ(frame->family, 4);
    EXPECT_EQ(frame->proto, 17);
    EXPECT_TRUE(frame->ip_checksum_ok);
    EXPECT_TRUE(frame->l4_checksum_ok) << frame->src << ":" << frame->sport;
    EXPECT_EQ(frame->dport, 80);
    EXPECT_GE(frame->sport, 1024);
    EXPECT_LT(frame->sport, 1024 + 25);
    EXPECT_TRUE(frame->src == "198.18.0.1" || frame->src == "198.18.0.2" || frame->src == "198.18.0.3" ||
                frame->src == "198.18.0.4")
        << frame->src;
    flows.emplace(frame->src, frame->sport);
  }
  EXPECT_EQ(ours, 1000u) << out.capture_text;
  EXPECT_EQ(out.peer_rx_packets, 1000u);
  EXPECT_EQ(flows.size(), 100u);
}

TEST_F(PktgenFrames, Ipv6TcpSynMixOverTwoCpus) {
  const std::string cpus = std::thread::hardware_concurrency() >= 2 ? "0,1" : "0";
  auto out = lab_->capture_while_sending(
      "--ipv6 --dst 2001:db8::1:100 --dport 443 --proto tcp --syn-percent 30 --size 128 --flows 1000 "
      "--src-addrs 10 --src-port 2000 --count 2000 --rate 20000 --cpus " +
          cpus,
      2000);
  ASSERT_EQ(out.rc, 0) << out.stderr_text;
  EXPECT_EQ(out.summary["packets"], 2000);
  const std::uint64_t claimed_syn = out.summary["program_syn"];
  EXPECT_GT(claimed_syn, 0u);
  EXPECT_LT(claimed_syn, 2000u);

  std::set<std::pair<std::string, std::uint16_t>> flows;
  std::set<std::string> sources;
  std::size_t ours = 0, syn = 0, ack = 0;
  for (const auto& raw : out.frames) {
    auto frame = parse_frame(raw);
    if (!frame || frame->dst != "2001:db8::1:100") continue;
    ++ours;
    EXPECT_EQ(frame->length, 124u);
    EXPECT_EQ(frame->family, 6);
    EXPECT_EQ(frame->proto, 6);
    EXPECT_TRUE(frame->l4_checksum_ok) << frame->src << ":" << frame->sport;
    EXPECT_EQ(frame->dport, 443);
    if (frame->tcp_flags == 0x02) ++syn;
    if (frame->tcp_flags == 0x10) ++ack;
    flows.emplace(frame->src, frame->sport);
    sources.insert(frame->src);
  }
  EXPECT_EQ(ours, 2000u) << out.capture_text;
  EXPECT_EQ(out.peer_rx_packets, 2000u);
  EXPECT_EQ(syn, claimed_syn);
  EXPECT_EQ(syn + ack, 2000u);
  EXPECT_EQ(flows.size(), 1000u);
  EXPECT_EQ(sources.size(), 10u);
  EXPECT_TRUE(sources.count("2001:db8::1:1"));
  EXPECT_TRUE(sources.count("2001:db8::1:a"));
}

TEST_F(PktgenFrames, Ipv6UdpFullSizeFramesKeepValidChecksums) {
  auto out = lab_->capture_while_sending(
      "--ipv6 --dst 2001:db8::1:100 --dport 53 --proto udp --size 1518 --flows 7 --count 700 --rate 20000", 700);
  ASSERT_EQ(out.rc, 0) << out.stderr_text;
  std::size_t ours = 0;
  std::set<std::uint16_t> ports;
  for (const auto& raw : out.frames) {
    auto frame = parse_frame(raw);
    if (!frame || frame->dst != "2001:db8::1:100") continue;
    ++ours;
    EXPECT_EQ(frame->length, 1514u);
    EXPECT_EQ(frame->proto, 17);
    EXPECT_TRUE(frame->l4_checksum_ok) << frame->sport;
    ports.insert(frame->sport);
  }
  EXPECT_EQ(ours, 700u) << out.capture_text;
  EXPECT_EQ(ports.size(), 7u);
}

// The forwarding benchmark's path, end to end: the balancer on the peer sends every frame back
// with XDP_TX and the generator's sink counts them.
class PktgenBounce : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces, XDP and BPF_PROG_TEST_RUN";
    if (!live_frames().works()) GTEST_SKIP() << live_frames().sentence();
    lab_ = std::make_unique<Lab>();
    std::string error = lab_->build(false);
    ASSERT_TRUE(error.empty()) << error;
  }
  std::unique_ptr<Lab> lab_;
};

TEST_F(PktgenBounce, BalancerForwardsEveryFrameBackToTheSink) {
  auto out = lab_->bounce_through("balancer", "--flows 500 --src-addrs 4 --count 20000 --cpus 0");
  ASSERT_EQ(out.rc, 0) << out.stderr_text;
  EXPECT_EQ(out.summary["packets"], 20000);
  EXPECT_EQ(out.summary["sink"]["packets"], 20000);
  const auto& counters = out.target_exit["counters"];
  EXPECT_EQ(counters["tx"], 20000) << out.target_exit.dump();
  EXPECT_EQ(counters["flow_new"], 500) << out.target_exit.dump();
  EXPECT_EQ(counters["drop_malformed"], 0);
}

// bench/tunnel_rate's path: the balancer encapsulates (its outer headers written over the
// generator's Ethernet header in the generator's own page) and the generator restores the
// frame it hands out again, so every frame comes back, encapsulated.
TEST_F(PktgenBounce, TunnelledFramesComeBackAndTheGeneratorRestoresItsFrame) {
  const std::string error = lab_->route_reals_to_generator();
  ASSERT_TRUE(error.empty()) << error;
  for (const std::string kind : {"ipip", "gue"}) {
    auto out = lab_->bounce_through("balancer", "--flows 50 --count 20000 --cpus 0",
                                    {"--tunnel", kind, "--tunnel-src", "198.18.2.254"});
    ASSERT_EQ(out.rc, 0) << out.stderr_text;
    EXPECT_EQ(out.summary["sink"]["packets"], 20000) << kind;
    const std::uint64_t overhead = kind == "ipip" ? 20 : 32;
    // bytes_on_wire counts the 4-byte FCS the sink does not see.
    EXPECT_EQ(out.summary["sink"]["bytes"], out.summary["bytes_on_wire"].get<std::uint64_t>() + 20000 * (overhead - 4))
        << kind;
    const auto& counters = out.target_exit["counters"];
    EXPECT_EQ(counters["tx"], 20000) << out.target_exit.dump();
    EXPECT_EQ(counters["pass"], 0) << out.target_exit.dump();
  }
}

TEST_F(PktgenBounce, MinimalProgramBouncesAsWell) {
  auto out = lab_->bounce_through("minimal", "--size 1500 --flows 3 --count 5000 --cpus 0");
  ASSERT_EQ(out.rc, 0) << out.stderr_text;
  EXPECT_EQ(out.summary["sink"]["packets"], 5000);
  EXPECT_EQ(out.summary["sink"]["bytes"], 5000 * 1496);
}

TEST_F(PktgenArguments, RefusesAFrameTooSmallForItsHeaders) {
  auto out = lab_->capture_while_sending("--ipv6 --dst 2001:db8::1 --proto tcp --size 64 --count 10", 0);
  EXPECT_EQ(out.rc, 1);  // an invalid value: neither a refusal (3) nor a CLI11 usage error (100+)
  EXPECT_NE(out.stderr_text.find("below the headers"), std::string::npos) << out.stderr_text;
  EXPECT_TRUE(out.frames.empty());
  EXPECT_EQ(out.peer_rx_packets, 0u);
}

// Where the kernel refuses live frames, the forwarding benchmark is a fact about the host, not
// a failure: it says "not measurable here" with the generator's sentence, exits 0, writes no
// results and leaves no namespace behind. The refusal is made on purpose with the seccomp
// wrapper, so this runs on every machine.
TEST(PktgenBench, ForwardingIsNotMeasurableWhereLiveFramesAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces and XDP";
  const char* source = std::getenv("XLB_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "run through ctest (XLB_SOURCE_DIR)";
  const fs::path dir = fs::temp_directory_path() / ("xlb-fwd-refused-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path json = dir / "forwarding.json", err = dir / "stderr";
  // Only the benchmark's own namespaces: other labs on the machine come and go meanwhile.
  const std::string lab_namespaces = "ip netns list | grep '^xlbfwd-' || true";
  const std::string before = read_text_of_command(lab_namespaces);
  const int rc = sh("FWD_JSON=" + json.string() + " " +
                    (binary_dir() / "tests" / "bpf" / "live_frames" / "xlb-deny-bpf-test-run").string() + " " +
                    source + "/bench/forwarding/run.sh " + binary_dir().string() + " >/dev/null 2>" + err.string());
  const std::string text = read_text(err);
  EXPECT_EQ(rc, 0) << text;
  EXPECT_EQ(text, "forwarding: not measurable here: the kernel refused live-frame test runs (BPF_PROG_TEST_RUN with "
                  "BPF_F_TEST_XDP_LIVE_FRAMES: Operation not permitted); the generator cannot send here. Needs root "
                  "with CAP_BPF/CAP_SYS_ADMIN and CAP_NET_ADMIN and a kernel that allows live frames (5.18+); see "
                  "docs/operations.md\n");
  EXPECT_FALSE(fs::exists(json));
  EXPECT_EQ(read_text_of_command(lab_namespaces), before);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace xlb::pktgen::test
