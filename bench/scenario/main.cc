// ctd-scenarios: the scenario benchmark (bench/scenarios drives it). Walks the same seeded
// streams under every retraining policy (policies.h) with real prequential scoring and real
// ctd-train runs (runner.h), then prints per policy the mean prequential accuracy, the
// retrainings, and per drift the detection delay, the drop and the recovery (metrics.h); on
// the stable streams, the fires of the decided policies; and the two targets, met or
// not, with the numbers. Writes everything as JSON with --json.
//
//   ctd-scenarios --ctd-train build/bin/ctd-train --work DIR [--json OUT] [--samples N]
//                 [--stable-samples N] [--seed-offset K] [--streams sea,rbf,sea-stable,...]
//
// Exit status: 0 when every walk ran (targets missed are reported, not failures), 1 on an
// error, 2 on bad usage.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "bench/scenario/policies.h"
#include "bench/scenario/report.h"

namespace {

using namespace ctd::bench;

struct Args {
  std::filesystem::path ctd_train = "build/bin/ctd-train";
  std::filesystem::path work = "/tmp/ctd-scenarios";
  std::filesystem::path json;
  ScenarioSizes sizes;
  std::set<std::string> streams;  // empty: all
};

bool parse(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (key == "--ctd-train")
      args.ctd_train = value;
    else if (key == "--work")
      args.work = value;
    else if (key == "--json")
      args.json = value;
    else if (key == "--samples")
      args.sizes.drift_samples = std::stoll(value);
    else if (key == "--stable-samples")
      args.sizes.stable_samples = std::stoll(value);
    else if (key == "--seed-offset")
      args.sizes.seed_offset = std::stoull(value);
    else if (key == "--streams") {
      std::stringstream list(value);
      for (std::string name; std::getline(list, name, ',');) args.streams.insert(name);
    } else
      return false;
  }
  return true;
}

ctd::trainers::RunSpec training_spec() {
  ctd::trainers::RunSpec spec;
  spec.model.kind = ctd::trainers::ModelKind::kMlp;
  spec.model.hidden = {32, 16};
  spec.optimizer.learning_rate = 0.01;
  spec.epochs = 10;
  spec.batch_size = 128;
  spec.device = "cpu";
  spec.threads = 1;
  spec.seed = 42;
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    if (!parse(argc, argv, args)) {
      std::cerr << "usage: ctd-scenarios --ctd-train PATH --work DIR [--json OUT] [--samples N] "
                   "[--stable-samples N] [--seed-offset K] [--streams a,b]\n";
      return 2;
    }
  } catch (const std::exception&) {
    std::cerr << "ctd-scenarios: bad number\n";
    return 2;
  }
  try {
    std::filesystem::create_directories(args.work);
    Trainer trainer(args.ctd_train, args.work, training_spec());
    WalkOptions options;
    ScenarioReport report(options, MetricOptions{});
    for (const ScenarioStream& stream : scenario_streams(args.sizes)) {
      if (!args.streams.empty() && !args.streams.contains(stream.name)) continue;
      report.run_stream(stream, trainer, std::cout);
    }
    report.print_targets(std::cout);
    std::cout << "training: " << trainer.runs() << " ctd-train runs, " << trainer.seconds()
              << " s in total; " << trainer.reused() << " reused\n";
    if (!args.json.empty()) std::ofstream(args.json) << report.json().dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "ctd-scenarios: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
