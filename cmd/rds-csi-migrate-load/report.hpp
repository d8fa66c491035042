// What a storm shows people: the summary table, the JSON report, the data files of latency and
// throughput over time, and their SVG plots when gnuplot is installed.
#pragma once

#include <string>

#include "cmd/rds-csi-migrate-load/storm.hpp"

namespace rds::migrate_load {

struct run_facts {
  storm_config config;
  std::string plugin;  // how the plugin was reached: "started", "--endpoint"
  std::string rds;     // "embedded simulator", "rds-sim with faults ..."
  std::string machine; // CPU model and cores
};

/// The summary table on stdout.
void print_summary(const run_facts& facts, const storm_result& r);

/// The JSON report (every figure of the table, the counters, the breaches, the verdict).
std::string json_report(const run_facts& facts, const storm_result& r);

/// latency.dat and throughput.dat in `dir` (always), latency.svg and throughput.svg when gnuplot
/// is on the PATH. Returns what it wrote, one path a line.
std::string write_plots(const std::string& dir, const storm_result& r);

} // namespace rds::migrate_load
