// xlb-pktgen: see options.cpp for the command line, generator.hpp for how it sends.
#include <cstdio>
#include <exception>
#include <iostream>

#include "generator.hpp"
#include "live_frames.hpp"
#include "netdev.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  try {
    xlb::pktgen::Options options = xlb::pktgen::parse_options(argc, argv);
    // Asked before anything is attached or sent, with what the run will use, so that a kernel
    // that refuses live frames gets one sentence and its own exit status, not a bare errno
    // from every worker.
    const int ifindex = options.device.empty() ? 0 : xlb::pktgen::device_index(options.device);
    const xlb::pktgen::LiveFramesProbe probe = xlb::pktgen::probe_live_frames(ifindex, options.batch_size);
    if (!probe.works()) {
      std::fprintf(stderr, "xlb-pktgen: %s\n", probe.sentence().c_str());
      return xlb::pktgen::kExitRefused;
    }
    if (options.probe_only) {
      std::printf("xlb-pktgen: live frames work here (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, "
                  "ingress %s, batch %u)\n",
                  options.device.empty() ? "lo" : options.device.c_str(), options.batch_size);
      return 0;
    }
    xlb::pktgen::Generator::block_stop_signals();
    xlb::pktgen::Generator generator(std::move(options));
    nlohmann::json summary = generator.run();
    std::cout << summary.dump(2) << std::endl;
    if (summary.contains("error")) {
      std::fprintf(stderr, "xlb-pktgen: %s\n", summary["error"].get<std::string>().c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xlb-pktgen: %s\n", e.what());
    return 1;
  }
}
