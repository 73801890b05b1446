// `tmlp bench` under mpirun: training steps of one configuration across the ranks, with each
// rank's compute, reduction and waiting time per step, the bytes it sent and the overlap
// (docs/DISTRIBUTED.md). Rank 0 prints the table and writes the JSON.
//
//     mpirun -np 4 tmlp bench A --threads 1 [--json a4.json]
#pragma once

#include <cstdint>
#include <string>

#include "cli/bench_report.hpp"
#include "tmlp/distributed.hpp"

namespace tmlp::cli {

int bench_ranks(const bench_problem& p, int n_threads, double min_time, std::uint64_t seed,
                const std::string& json_path, bool quiet, communicator& world);

}  // namespace tmlp::cli
