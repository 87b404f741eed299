// xlb-pktgen: see options.cpp for the command line, generator.hpp for how it sends.
#include <cstdio>
#include <exception>
#include <iostream>

#include "generator.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  try {
    xlb::pktgen::Options options = xlb::pktgen::parse_options(argc, argv);
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
