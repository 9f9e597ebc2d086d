// `ctd gen`: a concept-drift stream (generators/) as the labels, inferences and metric points
// ctd ingests, into Kafka topics or a JSON-lines file.
//
//   ctd gen --generator sea|hyperplane|agrawal|stagger|rbf --samples N [--concept K]
//           [--drift K@POSITION[/WIDTH] ...] [--noise P] [--seed S] [generator options]
//           [--rate R] [--label-delay N] [--inferences-topic T] [--metrics-topic T]
//           (--brokers B [--labels-topic T] [--property K=V ...] | --out FILE.jsonl)
//   ctd gen --generator G [generator options] --print-pipeline [topics]
//
// Deterministic: the same options (and seed) give the same messages, byte for byte, unless
// --start-time now. Exit status: 0 done, 1 the file or Kafka failed, 2 usage error.
#pragma once

#include "daemon/cli.h"

namespace ctd::cli {

int gen(const Args& args);

}  // namespace ctd::cli
